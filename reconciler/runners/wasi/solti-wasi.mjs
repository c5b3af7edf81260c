// Solti's WASI preview 1 launcher for hosts without wasmtime, on Node.js's
// own node:wasi. Its command line mirrors `wasmtime run` so that the wasm
// runner builds one:
//   node solti-wasi.mjs [--env NAME=VALUE]... MODULE.wasm [ARG]...
// The module sees only the --env pairs, its own name and the args; it gets
// no directories. Its exit code becomes the process's; a trap exits 134 as
// in wasmtime.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';

const argv = process.argv.slice(2);
const env = {};
while (argv.length > 0 && argv[0] === '--env') {
  const pair = argv[1] ?? '';
  const eq = pair.indexOf('=');
  if (eq <= 0) {
    process.stderr.write(`solti-wasi: --env wants NAME=VALUE, got '${pair}'\n`);
    process.exit(2);
  }
  env[pair.slice(0, eq)] = pair.slice(eq + 1);
  argv.splice(0, 2);
}
if (argv.length === 0) {
  process.stderr.write('usage: solti-wasi.mjs [--env NAME=VALUE]... MODULE.wasm [ARG]...\n');
  process.exit(2);
}

const [module, ...args] = argv;
let code;
try {
  const wasi = new WASI({ version: 'preview1', args: [module, ...args], env, returnOnExit: true });
  const compiled = await WebAssembly.compile(await readFile(module));
  const instance = await WebAssembly.instantiate(compiled, wasi.getImportObject());
  code = wasi.start(instance);
} catch (error) {
  process.stderr.write(`solti-wasi: ${module}: ${error.message}\n`);
  code = error instanceof WebAssembly.RuntimeError ? 134 : 1;
}
process.exitCode = code;
