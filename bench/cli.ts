#!/usr/bin/env node
// `npx fastconv <command>`: the package's command line (bench, info); `bench` takes the
// same flags as `npm run bench --`.
import { USAGE } from './args.js';

const HELP = `usage: fastconv <command> [flags]
commands:
  bench     benchmark fastconv against its peers on the layer suite (bench/README.md)
  info      print backendInfo(): which backends load here and which one is selected

${USAGE.replace('npm run bench -- [flags]   (or: npx fastconv bench [flags])', 'fastconv bench [flags]')}`;

async function cli(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'bench': {
      const { main } = await import('./run.js');
      return main(rest);
    }
    case 'info': {
      const { loadFastconv } = await import('./fastconv.js');
      const api = await loadFastconv();
      if (typeof api === 'string') { process.stderr.write(`${api}\n`); return 1; }
      console.log(JSON.stringify(api.backendInfo(), null, 2));
      return 0;
    }
    case undefined: case '--help': case '-h': case 'help':
      console.log(HELP);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`fastconv: unknown command '${command}'\n${HELP}\n`);
      return 2;
  }
}

cli(process.argv.slice(2)).then((code) => process.exit(code), (e: Error) => {
  process.stderr.write(`fastconv: ${e instanceof RangeError ? e.message : e.stack ?? e}\n`);
  process.exit(2);
});
