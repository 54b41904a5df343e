#!/usr/bin/env node
// `npx fastconv <command>`: the package's command line (bench, info); `bench` takes the
// same flags as `npm run bench --`, but writes its results under the working directory
// (./fastconv-bench/ unless --out says otherwise), never into the installed package.
import { join } from 'node:path';
import { parseArgs, USAGE } from './args.js';
import { DEFAULT_PEERS } from './peers/index.js';

/** The packages each peer needs, at the versions the bench was measured with (package.json devDependencies). */
const PEER_PACKAGES: Record<string, string[]> = {
  ort: ['onnxruntime-node@1.30'],
  tfjs: ['@tensorflow/tfjs-core@4.22', '@tensorflow/tfjs-backend-wasm@4.22'],
  'ort-web': ['onnxruntime-web@1.30'],
};

function resolvable(spec: string): boolean {
  try {
    import.meta.resolve(spec);
    return true;
  } catch {
    return false;
  }
}

/** One line saying how to install the peers this run would compare against and cannot load, or null. */
function missingPeersHint(argv: string[]): string | null {
  const a = parseArgs(argv);
  const peers = a.peers ?? DEFAULT_PEERS[a.backend ?? 'native'];
  const missing = peers.filter((p) => (PEER_PACKAGES[p] ?? []).some((pkg) => !resolvable(pkg.replace(/@[^@/]+$/, ''))));
  if (!missing.length) return null;
  const pkgs = missing.flatMap((p) => PEER_PACKAGES[p] ?? []);
  const env = pkgs.some((p) => p.startsWith('onnxruntime-node')) ? 'ONNXRUNTIME_NODE_INSTALL=skip ' : '';
  return (
    `fastconv bench: peers not installed here: ${missing.join(', ')}; to compare against them: ` +
    `${env}npm install --no-save ${pkgs.join(' ')}` +
    (env ? " (the variable skips onnxruntime-node's CUDA download)" : '') +
    ', or --peers none'
  );
}

const HELP = `usage: fastconv <command> [flags]
commands:
  bench     benchmark fastconv against its peers on the layer suite (bench/README.md)
  info      print backendInfo(): which backends load here and which one is selected

${USAGE.replace('npm run bench -- [flags]   (or: npx fastconv bench [flags])', 'fastconv bench [flags]').replace(
  '(default bench/results)',
  '(default ./fastconv-bench)'
)}`;

async function cli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'bench': {
      const hint = rest.some((f) => f === '--help' || f === '-h') ? null : missingPeersHint(rest);
      if (hint) process.stderr.write(`${hint}\n`);
      const out = rest.some((f) => f === '--out' || f.startsWith('--out='))
        ? []
        : ['--out', join(process.cwd(), 'fastconv-bench')];
      const { main } = await import('./run.js');
      return main([...rest, ...out]);
    }
    case 'info': {
      const { loadFastconv } = await import('./fastconv.js');
      const api = await loadFastconv();
      if (typeof api === 'string') {
        process.stderr.write(`${api}\n`);
        return 1;
      }
      console.log(JSON.stringify(api.backendInfo(), null, 2));
      return 0;
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      console.log(HELP);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`fastconv: unknown command '${command}'\n${HELP}\n`);
      return 2;
  }
}

cli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`fastconv: ${e instanceof RangeError ? e.message : (e.stack ?? e)}\n`);
    process.exit(2);
  }
);
