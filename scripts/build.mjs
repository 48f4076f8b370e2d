// `npm run build`: bundles src/ into dist/ with esbuild, for start-up time (issue 14).
//
// tsc wrote one file per module, and each file the CLI loads costs a resolution, an open and
// a compilation. The bundle is one entry, dist/cli/main.js, plus code-split chunks
// (dist/chunks/) that each command's dynamic import loads when it runs: `--version` and
// `--help` load main.js and one chunk, nothing of `run`. The runtime dependencies
// (package.json `dependencies`) stay external and load from node_modules when a command needs
// them; what src/ imports from devDependencies is bundled (commander: the one library every
// start-up loads). Type checking is `npm run typecheck`.
//
// Every output file sits two levels below the package root (dist/cli/, dist/chunks/), as
// tsc's did: src/util/version.ts and src/plan/loadScenario.ts find package.json and
// scenarios/ at `../../` from their own URL.
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = 'src/cli/main.ts';
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

const options = {
  absWorkingDir: root,
  entryPoints: { 'cli/main': entry },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.3',
  external: Object.keys(pkg.dependencies ?? {}).flatMap((name) => [name, `${name}/*`]),
  // Bundled CommonJS (commander) calls require() for Node's built-in modules: give each ESM
  // chunk a real one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  // No source maps: the package ships none (test/package.test.ts). Names stay readable.
  minifyWhitespace: true,
  metafile: true,
  logLevel: 'warning',
};

// esbuild puts each set of modules shared by the same entries (main and the commands it
// imports lazily) in a chunk of its own: the ten small modules main.ts needs at start-up
// (errors, exit codes, defaults, ...) came out as nine chunks, nine more files to load. A
// first pass finds them; in the second every command entry imports them too, so they share
// one chunk. It changes what is in which file, not what any command loads.
const firstPass = await build({ ...options, write: false, plugins: [lazyChildProcessForCommander(), builtinsByRequire()] });
const startupModules = startupInputs(firstPass.metafile);

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
const { metafile } = await build({ ...options, plugins: [lazyChildProcessForCommander(), builtinsByRequire(), commandsShareStartupModules(startupModules)] });
writeLicences(metafile);

/** The src/ files in the chunks main.js imports statically (the start-up path, main.js aside). */
function startupInputs(meta) {
  const outputs = meta.outputs;
  const main = Object.keys(outputs).find((file) => outputs[file].entryPoint === entry);
  const chunks = new Set();
  const visit = (file) => {
    for (const i of outputs[file].imports) {
      if (i.kind !== 'import-statement' || i.external || chunks.has(i.path)) continue;
      chunks.add(i.path);
      visit(i.path);
    }
  };
  visit(main);
  return [...chunks].flatMap((chunk) => Object.keys(outputs[chunk].inputs)).filter((input) => input.startsWith('src/'));
}

/** Each module main.ts imports dynamically (a command) becomes an entry that also imports `modules`. */
function commandsShareStartupModules(modules) {
  const mainFile = path.join(root, entry);
  return {
    name: 'commands-share-startup-modules',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) =>
        args.kind === 'dynamic-import' && args.importer === mainFile
          ? { path: path.join(path.dirname(mainFile), args.path.replace(/\.js$/, '.ts')), namespace: 'command-entry' }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'command-entry' }, (args) => ({
        contents: [...modules.map((m) => `import ${JSON.stringify(path.join(root, m))};`), `export * from ${JSON.stringify(args.path)};`].join('\n'),
        loader: 'js',
        resolveDir: root,
      }));
    },
  };
}

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

/**
 * src/ imports Node's built-in modules as ESM (`import { readFileSync } from 'node:fs'`); Node
 * then builds an ESM facade of the whole module, reading every export, and `fs`'s lazy getters
 * load its streams (~1 ms at every start-up for one readFileSync). In the bundle, src/ gets
 * the same module from require() (the banner's), its named imports read as properties.
 */
function builtinsByRequire() {
  return {
    name: 'builtins-by-require',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) =>
        args.kind === 'import-statement' && args.importer.startsWith(path.join(root, 'src', path.sep))
          ? { path: args.path, namespace: 'builtin-by-require' }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'builtin-by-require' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(args.path)});`,
        loader: 'js',
      }));
    },
  };
}

/** The bundled libraries' licences ship beside their code, in dist/THIRD-PARTY-LICENSES.txt. */
function writeLicences(meta) {
  const bundled = new Set(Object.keys(meta.inputs).flatMap((input) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? []));
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
}
