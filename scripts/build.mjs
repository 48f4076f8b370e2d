// `npm run build`: bundles src/ into dist/ with esbuild, for start-up time (issue 14).
//
// tsc wrote one file per module, and each file the CLI loads costs a resolution, an open and
// a compilation. The build writes:
// - dist/cli/main.cjs, the front: src/cli/main.ts, the modules it needs at start-up (errors,
//   exit codes, defaults, version, ...) and commander, as one CommonJS file. `--version` and
//   `--help` load it and nothing else: no ESM loader either, whose own set-up was ~3 ms.
// - dist/commands/<command>.js and their shared chunks (dist/chunks/), ESM, which each
//   command's dynamic import loads when it runs. They take the start-up modules from the
//   front (the same classes and constants: `instanceof InputError` in main.ts holds for an
//   error a command throws), and everything else from their own chunks.
// The runtime dependencies (package.json `dependencies`) stay external and load from
// node_modules when a command needs them; what src/ imports from devDependencies is bundled
// (commander). Type checking is `npm run typecheck`.
//
// Every output file sits two levels below the package root, as tsc's did:
// src/util/version.ts and src/plan/loadScenario.ts find package.json and scenarios/ at
// `../../` from their own URL.
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = path.join(root, 'src/cli/main.ts');
const front = 'dist/cli/main.cjs';
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20.3',
  external: Object.keys(pkg.dependencies ?? {}).flatMap((name) => [name, `${name}/*`]),
  // No source maps: the package ships none (test/package.test.ts). Names stay readable.
  minifyWhitespace: true,
  metafile: true,
  logLevel: 'warning',
};

const startup = await startupModules();
const exportsOf = await exportNames(startup);
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });

const parsedBuiltins = await parseBuiltins();
const commands = [];
const frontBuild = await build({
  ...common,
  stdin: {
    contents: [
      `export { main } from ${JSON.stringify(entry)};`,
      ...startup.map((m) => `export * as ${namespaceOf(m)} from ${JSON.stringify(path.join(root, m))};`),
    ].join('\n'),
    resolveDir: root,
    sourcefile: 'front.js',
    loader: 'js',
  },
  outfile: front,
  format: 'cjs',
  // src/util/version.ts reads package.json beside its own URL.
  define: { 'import.meta.url': '__importMetaUrl' },
  banner: { js: "var __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [lazyChildProcessForCommander(), commandsLoadedLazily(commands)],
});

const commandsBuild = await build({
  ...common,
  entryPoints: Object.fromEntries(commands.map((file) => [`commands/${path.basename(file, '.ts')}`, file])),
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  format: 'esm',
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  plugins: [startupModulesFromFront(startup, exportsOf), builtinsByRequire(), builtinScenariosParsed(parsedBuiltins)],
});
writeLicences([frontBuild.metafile, commandsBuild.metafile]);

/**
 * The src/ files main.ts needs at start-up: those in the chunks its ESM bundle imports
 * statically (a first pass, not written), main.ts's own files aside.
 */
async function startupModules() {
  const { metafile } = await build({
    ...common,
    entryPoints: [entry],
    outdir: 'dist',
    splitting: true,
    format: 'esm',
    write: false,
    plugins: [lazyChildProcessForCommander()],
  });
  const outputs = metafile.outputs;
  const main = Object.keys(outputs).find((file) => outputs[file].entryPoint === path.relative(root, entry));
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

/** Each module's export names (what a command may import from it through the front). */
async function exportNames(modules) {
  const { metafile } = await build({
    absWorkingDir: root,
    entryPoints: modules,
    outdir: 'dist',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'warning',
  });
  return new Map(Object.values(metafile.outputs).map((o) => [o.entryPoint, o.exports]));
}

/** The front's export holding a start-up module's namespace: src/model/errors.ts → startup_model_errors. */
function namespaceOf(module) {
  return `startup_${module
    .replace(/^src\//, '')
    .replace(/\.ts$/, '')
    .replace(/\W/g, '_')}`;
}

/** main.ts's dynamic imports (the commands) stay dynamic imports of dist/commands/; `files` collects them. */
function commandsLoadedLazily(files) {
  return {
    name: 'commands-loaded-lazily',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind !== 'dynamic-import' || args.importer !== entry) return undefined;
        const file = path.join(path.dirname(entry), args.path.replace(/\.js$/, '.ts'));
        files.push(file);
        return { path: `../commands/${path.basename(file, '.ts')}.js`, external: true };
      });
    },
  };
}

/**
 * In the commands' build, an import of a start-up module reads it from the front (one instance
 * of each), with the banner's require(): an ESM import of the CommonJS front would have Node
 * lex the front's source for its export names at every command's start.
 */
function startupModulesFromFront(modules, exportsOf) {
  const files = new Map(modules.map((m) => [path.join(root, m), m]));
  return {
    name: 'startup-modules-from-front',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        if (args.namespace !== 'file' && args.namespace !== 'from-front') return undefined;
        if (args.namespace === 'from-front') return { path: `../cli/${path.basename(front)}`, external: true };
        const file = path.resolve(args.resolveDir, args.path.replace(/\.js$/, '.ts'));
        return files.has(file) ? { path: file, namespace: 'from-front' } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'from-front' }, (args) => {
        const module = files.get(args.path);
        const names = exportsOf.get(module) ?? [];
        return {
          contents: `export const { ${names.join(', ')} } = require('./front.cjs').${namespaceOf(module)};`,
          resolveDir: root,
          loader: 'js',
        };
      });
    },
  };
}

/**
 * The built-in scenarios parsed here, with src/'s own parser (src/plan/loadScenario.ts
 * parseBuiltins, bundled into dist/ for the moment: its scenarios/ is found two levels up).
 */
async function parseBuiltins() {
  const dir = path.join(root, 'dist/.parse-builtins');
  const outfile = path.join(dir, 'loadScenario.mjs');
  try {
    await build({ ...common, metafile: false, entryPoints: [path.join(root, 'src/plan/loadScenario.ts')], outfile, format: 'esm' });
    const { parseBuiltins } = await import(pathToFileURL(outfile).href);
    return await parseBuiltins();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * src/plan/builtinCache.ts, null in src/, holds in the bundle the built-in scenarios parsed at
 * build time: a run of the built-ins then loads neither yaml nor ajv (see that file).
 */
function builtinScenariosParsed(parsed) {
  const cache = path.join(root, 'src/plan/builtinCache.ts');
  return {
    name: 'builtin-scenarios-parsed',
    setup(b) {
      b.onLoad({ filter: /builtinCache\.ts$/ }, (args) =>
        args.path === cache ? { contents: `export const PARSED_BUILTINS = ${JSON.stringify(parsed)};`, loader: 'js' } : undefined,
      );
    },
  };
}

/**
 * src/ imports Node's built-in modules as ESM (`import { readFileSync } from 'node:fs'`); Node
 * then builds an ESM facade of the whole module, reading every export, and `fs`'s lazy getters
 * load its streams. In the commands' chunks, src/ gets the same module from require() (the
 * banner's), its named imports read as properties. (The front is CommonJS: esbuild does it.)
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

/** The bundled libraries' licences ship beside their code, in dist/THIRD-PARTY-LICENSES.txt. */
function writeLicences(metafiles) {
  const inputs = metafiles.flatMap((meta) => Object.keys(meta.inputs));
  const bundled = new Set(inputs.flatMap((input) => /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1] ?? []));
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
