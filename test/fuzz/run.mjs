// Long fuzzing runs:  npm run fuzz -- --minutes N [--seed S]
// Runs test/fuzz.test.ts (differential) and test/hostile.property.test.ts (hostile arguments, each case in a
// child process) with fresh fast-check batches until N minutes have passed (the first batch uses seed S,
// default: the time). A failure prints the seed and the shrunk case; replay it with
//   FASTCONV_FUZZ_SEED=<seed> npx vitest run --config test/vitest.config.ts test/fuzz.test.ts
//   FASTCONV_FUZZ_SEED=<seed> npx vitest run --config test/vitest.config.ts test/hostile.property.test.ts
// (a single hostile case: FASTCONV_HOSTILE_CASE='<case JSON>' with the second command).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const value = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v < 0) {
    console.error(`fuzz: --${name} needs a non-negative number, got ${args[i + 1]}`);
    process.exit(2);
  }
  return v;
};
const minutes = value('minutes', 1);
const seed = value('seed', Date.now() % 2 ** 31);
console.log(`fuzz: ${minutes} min from seed ${seed}`);
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const files = ['test/fuzz.test.ts', 'test/hostile.property.test.ts'];
const r = spawnSync(process.execPath, [vitest, 'run', '--config', 'test/vitest.config.ts', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, FASTCONV_FUZZ_MINUTES: String(minutes), FASTCONV_FUZZ_SEED: String(seed) },
});
process.exit(r.status ?? 1);
