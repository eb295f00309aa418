// Prints the SQL that creates PainChain's database from the checkout's prisma/schema.prisma, computed by
// Prisma's own schema engine in its WebAssembly build (@prisma/schema-engine-wasm, the same engine commit as
// the checkout's Prisma). Prisma's CLI would download a native schema engine from a host outside the package
// registries at `db push` time; this needs nothing but npm packages.
//
// usage: node schema_sql.mjs TOOLS_DIR BACKEND_DIR DATABASE_URL > schema.sql

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [toolsDir, backendDir, databaseUrl] = process.argv.slice(2);
const fromBackend = createRequire(join(backendDir, 'package.json'));
const fromTools = createRequire(join(toolsDir, 'package.json'));
const load = async (require, name) => import(pathToFileURL(require.resolve(name)).href);

const { PrismaPg } = await load(fromBackend, '@prisma/adapter-pg');
const { bindMigrationAwareSqlAdapterFactory } = await load(fromBackend, '@prisma/driver-adapter-utils');

// The package's entry imports the .wasm file as a module (a bundler's form); instantiate it by hand.
const wasmDir = dirname(fromTools.resolve('@prisma/schema-engine-wasm/schema_engine_bg'));
const bindings = await import(pathToFileURL(join(wasmDir, 'schema_engine_bg.js')).href);
const { instance } = await WebAssembly.instantiate(readFileSync(join(wasmDir, 'schema_engine_bg.wasm')), {
  './schema_engine_bg.js': bindings,
});
bindings.__wbg_set_wasm(instance.exports);
instance.exports.__wbindgen_start();

const schemaPath = join(backendDir, 'prisma', 'schema.prisma');
const content = readFileSync(schemaPath, 'utf8');
const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPg({ connectionString: databaseUrl }));
const engine = await bindings.SchemaEngine.new({ datamodels: [[schemaPath, content]] }, () => {}, adapter);
const diff = await engine.diff({
  from: { tag: 'empty' },
  to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content }] },
  shadowDatabaseUrl: null,
  script: true,
  exitCode: null,
  filters: { externalTables: [], externalEnums: [] },
});
process.stdout.write(diff.stdout);
process.exit(0);
