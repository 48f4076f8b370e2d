import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The pipeline runs one way (docs/architecture.md): each folder of src/ imports only itself
 * and the folders before it in this list. A lower layer importing a higher one fails here.
 */
const LAYERS = ['util', 'model', 'catalog', 'http', 'options', 'plan', 'wire', 'timeline', 'measures', 'verdict', 'report', 'lab', 'cli'] as const;

const SRC = path.resolve(import.meta.dirname, '../src');

interface Import {
  readonly file: string;
  readonly from: string;
  readonly to: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every relative import (static, type-only and dynamic) of every file under src/, as folder → folder. */
function projectImports(): Import[] {
  return sourceFiles(SRC).flatMap((file) => {
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1] as string);
    return specs.map((spec) => ({
      file: path.relative(SRC, file),
      from: layerOf(file),
      to: layerOf(path.resolve(path.dirname(file), spec)),
    }));
  });
}

function layerOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0] ?? '';
}

describe('layers', () => {
  it('every folder of src/ is a layer', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => !(LAYERS as readonly string[]).includes(f))).toEqual([]);
    expect(readdirSync(SRC).filter((f) => f.endsWith('.ts'))).toEqual([]);
  });

  it('no layer imports a layer above it', () => {
    const imports = projectImports();
    expect(imports.length).toBeGreaterThan(50);
    const rank = (layer: string): number => (LAYERS as readonly string[]).indexOf(layer);
    const upward = imports.filter((i) => rank(i.to) > rank(i.from)).map((i) => `${i.file} imports ${i.to}/`);
    expect(upward).toEqual([]);
  });

  it('the check sees an upward import', () => {
    // The same rule applied to a line that breaks it: wire/ reading verdict/.
    const rank = (layer: string): number => (LAYERS as readonly string[]).indexOf(layer);
    expect(rank('verdict') > rank('wire')).toBe(true);
    const spec = /(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/.exec("import { adviceFor } from '../verdict/advice.js';")?.[1];
    expect(layerOf(path.resolve(SRC, 'wire', spec ?? ''))).toBe('verdict');
  });
});
