// Command-line flags of the bench (documented in bench/README.md).

export interface BenchArgs {
  json: boolean;
  layers: string[] | null;
  threads: number | null; // null: 1 and all
  backend: 'native' | 'wasm' | 'js' | null; // null: native, or wasm when the addon is missing
  peers: string[] | null; // null: the default peers of the backend; [] = none
  quick: boolean;
  backward: boolean;
  benny: boolean;
  torch: string | null; // PyTorch numbers to merge (JSON, format in bench/README.md)
  budgetS: number | null; // per-layer timing budget
  batchMs: number | null; // shortest timed batch of back-to-back calls
  out: string | null; // results folder
  api: 'layer' | 'fn'; // how fastconv is called
  kernel: KernelFamily | null; // time one kernel family only (no peers, no benny pass)
  tile: 2 | 4 | null; // --kernel winograd: force F(2x2) or F(4x4)
  isa: string | null; // native: avx512 | avx2 | neon | scalar; wasm: relaxed | simd | scalar
  help: boolean;
}

/**
 * The kernel families --kernel times: each of fastconv's algorithms, and the depthwise kernels, which
 * are the direct algorithm on layers with one input channel per group ('direct' then means the
 * direct loop nest on the other layers).
 */
export const KERNEL_FAMILIES = ['direct', 'im2col', 'winograd', 'fft', 'depthwise'] as const;
export type KernelFamily = (typeof KERNEL_FAMILIES)[number];
export const NATIVE_ISAS = ['avx512', 'avx2', 'neon', 'scalar'] as const;
export const WASM_ISAS = ['relaxed', 'simd', 'scalar'] as const;

export const USAGE = `usage: npm run bench -- [flags]   (or: npx fastconv bench [flags])
  --layers L2,L6         only these layers of bench/layers.json
  --threads N            only N threads (default: 1 and all cores)
  --backend B            native | wasm | js: which fastconv backend and which peers (default native)
  --peers LIST           none, or a comma list of: ort, tfjs, ort-web (default native: ort,tfjs; wasm: tfjs,ort-web)
  --quick                few runs, for smoke tests
  --json                 print the JSON result only (the progress bar stays on stderr)
  --no-benny             skip the benny pass over the fastconv backends
  --torch FILE           merge PyTorch numbers from a JSON file (format: bench/README.md)
  --budget S             seconds of timed rounds per layer (default 6, --quick 0.3)
  --batch-ms MS          a timed batch repeats the call until it lasts this long (default 20, --quick 1)
  --out DIR              where results go (default bench/results)
  --api layer|fn         call fastconv through Conv2d/Conv1d layers (default) or conv2d/conv1d
  --backward             grad-input + grad-weight instead of forward (default layers L1,L2,L4,L6,L7,L10; peer: --torch)
  --kernel K             time one kernel family: direct | im2col | winograd | fft | depthwise (no peers, no benny)
  --tile 2|4             with --kernel winograd: force F(2x2,3x3) or F(4x4,3x3) (F(2) where F(4) is inexact)
  --isa I                native: avx512 | avx2 | neon | scalar; wasm: relaxed | simd | scalar (default: the best)`;

export function parseArgs(argv: string[]): BenchArgs {
  const a: BenchArgs = {
    json: false,
    layers: null,
    threads: null,
    backend: null,
    peers: null,
    quick: false,
    backward: false,
    benny: true,
    torch: null,
    budgetS: null,
    batchMs: null,
    out: null,
    api: 'layer',
    kernel: null,
    tile: null,
    isa: null,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v.startsWith('--')) throw new RangeError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--json':
        a.json = true;
        break;
      case '--quick':
        a.quick = true;
        break;
      case '--backward':
        a.backward = true;
        break;
      case '--no-benny':
        a.benny = false;
        break;
      case '--help':
      case '-h':
        a.help = true;
        break;
      case '--layers':
        a.layers = value().split(',');
        break;
      case '--threads': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) throw new RangeError(`--threads must be a positive integer, got ${argv[i]}`);
        a.threads = n;
        break;
      }
      case '--backend': {
        const b = value();
        if (b !== 'native' && b !== 'wasm' && b !== 'js')
          throw new RangeError(`--backend must be native, wasm or js, got '${b}'`);
        a.backend = b;
        break;
      }
      case '--peers': {
        const v = value();
        a.peers =
          v === 'none'
            ? []
            : v
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean);
        break;
      }
      case '--torch':
        a.torch = value();
        break;
      case '--out':
        a.out = value();
        break;
      case '--api': {
        const v = value();
        if (v !== 'layer' && v !== 'fn') throw new RangeError(`--api must be layer or fn, got '${v}'`);
        a.api = v;
        break;
      }
      case '--budget': {
        const s = Number(value());
        if (!(s > 0)) throw new RangeError(`--budget must be a positive number of seconds, got ${argv[i]}`);
        a.budgetS = s;
        break;
      }
      case '--batch-ms': {
        const ms = Number(value());
        if (!(ms > 0)) throw new RangeError(`--batch-ms must be a positive number of milliseconds, got ${argv[i]}`);
        a.batchMs = ms;
        break;
      }
      case '--kernel': {
        const k = value();
        if (!(KERNEL_FAMILIES as readonly string[]).includes(k))
          throw new RangeError(`--kernel must be one of ${KERNEL_FAMILIES.join(', ')}, got '${k}'`);
        a.kernel = k as KernelFamily;
        break;
      }
      case '--tile': {
        const t = value();
        if (t !== '2' && t !== '4') throw new RangeError(`--tile must be 2 or 4 (F(2x2) or F(4x4) Winograd), got '${t}'`);
        a.tile = Number(t) as 2 | 4;
        break;
      }
      case '--isa':
        a.isa = value();
        break;
      default:
        throw new RangeError(`unknown flag '${argv[i]}'\n${USAGE}`);
    }
  }
  if (a.tile !== null && a.kernel !== 'winograd') throw new RangeError('--tile applies to --kernel winograd only');
  if (a.isa !== null) {
    if (a.backend === 'js') throw new RangeError('--isa applies to --backend native or wasm, not js');
    const isas: readonly string[] = a.backend === 'wasm' ? WASM_ISAS : NATIVE_ISAS;
    if (!isas.includes(a.isa))
      throw new RangeError(`--isa must be one of ${isas.join(', ')} with --backend ${a.backend ?? 'native'}, got '${a.isa}'`);
  }
  if (a.kernel !== null && a.backward)
    throw new RangeError('--kernel times forward kernels; it does not combine with --backward');
  return a;
}
