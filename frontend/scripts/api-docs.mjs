// After `vite build`: put /api/docs into dist/api-docs/ — Swagger UI's prebuilt bundle and
// stylesheet (swagger-ui-dist, the version locked in package-lock.json) and this repo's
// api-docs/ files. Each asset is renamed after its content hash under assets/, so the Flask
// service can serve it as immutable; index.html names the renamed files.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join } from 'node:path';

const frontend = join(import.meta.dirname, '..');
const source = join(frontend, 'api-docs');
const out = join(frontend, 'dist', 'api-docs');
const swaggerUi = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const assets = [
  join(swaggerUi, 'swagger-ui-bundle.js'),
  join(swaggerUi, 'swagger-ui.css'),
  join(source, 'start.js'),
  join(source, 'docs.css'),
];

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
const urls = new Map();
for (const file of assets) {
  const name = basename(file);
  const hash = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
  const hashed = `${basename(name, extname(name))}-${hash}${extname(name)}`;
  copyFileSync(file, join(out, 'assets', hashed));
  urls.set(name, `/api/docs/assets/${hashed}`);
}
// Swagger UI's licence travels with its code.
copyFileSync(join(swaggerUi, 'LICENSE'), join(out, 'SWAGGER-UI-LICENSE.txt'));

const page = readFileSync(join(source, 'index.html'), 'utf8').replace(/\{\{([^}]+)\}\}/g, (_, name) => {
  const url = urls.get(name);
  if (!url) throw new Error(`api-docs/index.html names an unknown asset {{${name}}}`);
  return url;
});
writeFileSync(join(out, 'index.html'), page);
const version = JSON.parse(readFileSync(join(swaggerUi, 'package.json'), 'utf8')).version;
console.log(`API docs: Swagger UI ${version} → dist/api-docs/ (${urls.size} assets)`);
