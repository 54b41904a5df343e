// Merges PyTorch numbers from --torch FILE (format: bench/README.md, "Adding PyTorch numbers") into a
// run, as an external peer (its own processes and timer, so compare with care).
import { readFileSync } from 'node:fs';
import type { ImplResult, LayerResult } from './results.js';

interface TorchRecord {
  id: string;
  threads: number;
  thp?: boolean;
  backend: string;
  gflops_torch: number;
  gflops_onednn: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b),
    m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function mergeTorch(path: string, layers: LayerResult[], threads: number[]): number {
  const json = JSON.parse(readFileSync(path, 'utf8')) as { forward?: TorchRecord[] };
  const fwd = json.forward ?? [];
  if (!fwd.length) throw new Error(`--torch ${path}: no "forward" records (format: bench/README.md, "Adding PyTorch numbers")`);
  let merged = 0;
  for (const l of layers) {
    for (const t of threads) {
      let recs = fwd.filter((r) => r.id === l.id && r.threads === t);
      // Huge-page runs are the steady state the other implementations also reach (reused buffers).
      if (recs.some((r) => r.thp)) recs = recs.filter((r) => r.thp);
      if (!recs.length) continue;
      // Where PyTorch's dispatcher does not pick oneDNN (L4, L10) the forced oneDNN path is what a user can get.
      const gflops = median(recs.map((r) => Math.max(r.gflops_torch, r.gflops_onednn)));
      const row: ImplResult = {
        id: `pytorch/${t}t`,
        family: 'peer',
        arena: 'native',
        threads: t,
        status: 'ok',
        gflops,
        algorithm: recs[0].backend,
        external: `--torch ${path}, median of ${recs.length} process(es)`,
      };
      l.impls.push(row);
      merged++;
    }
  }
  return merged;
}
