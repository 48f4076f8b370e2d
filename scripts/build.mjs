// `npm run build`: bundles src/ into dist/ with esbuild, for start-up time (issue 14).
//
// tsc's one file per module cost ~60 module loads at start-up; the bundle is one entry,
// dist/cli/main.js, and code-split chunks (dist/chunks/) that each command imports when it
// runs, so `--version` and `--help` load the CLI's own small part and nothing of `run`.
// The runtime dependencies (package.json `dependencies`) stay external and load from
// node_modules when a command needs them; what src/ imports from devDependencies is bundled
// (commander: the one library every start-up loads). Type checking is `npm run typecheck`.
//
// Every output file sits two levels below the package root (dist/cli/, dist/chunks/), as
// tsc's did: src/util/version.ts and src/plan/loadScenario.ts find package.json and
// scenarios/ at `../../` from their own URL.
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const external = Object.keys(pkg.dependencies ?? {}).flatMap((name) => [name, `${name}/*`]);

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
const { metafile } = await build({
  absWorkingDir: root,
  entryPoints: { 'cli/main': 'src/cli/main.ts' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.3',
  external,
  // Bundled CommonJS (commander) calls require() for Node's built-in modules: give each ESM
  // chunk a real one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  // No source maps: the package ships none (test/package.test.ts). Names stay readable.
  minifyWhitespace: true,
  metafile: true,
  logLevel: 'warning',
  plugins: [lazyChildProcessForCommander()],
});

/**
 * commander requires node:child_process at load, only to run external subcommands (which
 * this CLI has none of): it pulled child_process, net and dgram into every start-up (~1.5 ms).
 * Here commander gets the same `spawn`, loaded on first use.
 */
function lazyChildProcessForCommander() {
  return {
    name: 'lazy-child-process-for-commander',
    setup(b) {
      b.onResolve({ filter: /^node:child_process$/ }, (args) =>
        /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy-child-process' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
        contents: "module.exports = { get spawn() { return require('node:child_process').spawn; } };",
        loader: 'js',
      }));
    },
  };
}

// The bundled libraries' licences ship beside their code.
const bundled = new Set(Object.keys(metafile.inputs).flatMap((input) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? []));
const licences = [...bundled].sort().map((name) => {
  const dir = new URL(`../node_modules/${name}/`, import.meta.url);
  const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  if (file === undefined) throw new Error(`${name} is bundled into dist/ but has no licence file to ship with it`);
  return `${name}\n\n${readFileSync(new URL(file, dir), 'utf8').trim()}\n`;
});
writeFileSync(
  new URL('../dist/THIRD-PARTY-LICENSES.txt', import.meta.url),
  `Libraries bundled into dist/, with their licences.\n\n${licences.join('\n---\n\n')}`,
);
