// Builds an app's JavaScript and TypeScript API routes into one wasm component: esbuild bundles
// the routes, their npm dependencies and the Next.js-shaped runtime into one ES module, then
// componentize-js snapshots it into a SpiderMonkey component. `routelet build` runs this file
// with a job description; the component is cached by a hash of everything that goes into it.
//
//   node build.mjs JOB.json
//   JOB = { app, routes: [{ pattern, path, relative }], out, cacheDir }
//
// Prints one JSON line ({ sha256, cached, millis }) on success; on failure, the reason on stderr
// and exit code 1.

import { createHash } from 'node:crypto';
import { builtinModules } from 'node:module';
import { copyFile, mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';

const sdk = dirname(fileURLToPath(import.meta.url));
const runtime = join(sdk, 'runtime');

/// Node built-ins the runtime stands in for; every other one fails the build by name.
const PROVIDED = { buffer: 'buffer.js', process: 'process.js' };

/// The WASI release the JS engine imports; the host links any newer 0.2 release to it.
const ENGINE_WASI = '0.2.10';

async function main() {
  const job = JSON.parse(await readFile(process.argv[2], 'utf8'));
  const started = Date.now();
  const esbuild = await import('esbuild');
  const { code, map } = await bundle(esbuild, job);
  // The map rides after the code (so no position in it moves), for stack traces at run time.
  const bundled = `${code}\nglobalThis[Symbol.for('routelet.sourceMap')] = ${map};\n`;
  const wit = await assembleWit(job.cacheDir);
  const versions = await toolVersions();
  const key = createHash('sha256')
    .update(versions)
    .update('\0')
    .update(wit.digest)
    .update('\0')
    .update(bundled)
    .digest('hex');
  const cached = join(job.cacheDir, `${key}.wasm`);
  const hit = existsSync(cached);
  if (!hit) {
    const source = join(job.cacheDir, `${key}.js`);
    await writeFile(source, bundled);
    const { componentize } = await import('@bytecodealliance/componentize-js');
    let component;
    try {
      ({ component } = await componentize({
        sourcePath: source,
        witPath: wit.dir,
        worldName: 'js-route',
      }));
    } catch (error) {
      const message = toSourceLines(String(error.message ?? error), key, map, job.app);
      fail(`snapshotting the routes' top-level code failed: ${message}`);
    }
    const partial = `${cached}.partial-${process.pid}`;
    await writeFile(partial, withReuseMark(component));
    await rename(partial, cached);
  }
  await mkdir(dirname(job.out), { recursive: true });
  await copyFile(cached, job.out);
  const bytes = await readFile(job.out);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  process.stdout.write(
    `${JSON.stringify({ sha256, cached: hit, millis: Date.now() - started })}\n`,
  );
}

/// The custom section that tells the host it may serve a route's next request with the same
/// instance: the runtime hands every host resource back before a request ends
/// (runtime/incoming.js). The host reads it in engine/compile.rs.
const REUSE_SECTION = 'routelet:instance-reuse';

/// `component` with the reuse section appended (a custom section may stand anywhere).
function withReuseMark(component) {
  const leb = (n) => {
    const bytes = [];
    do {
      let byte = n & 0x7f;
      n >>>= 7;
      if (n !== 0) byte |= 0x80;
      bytes.push(byte);
    } while (n !== 0);
    return bytes;
  };
  const name = Buffer.from(REUSE_SECTION);
  const payload = Buffer.from('route');
  const contents = Buffer.concat([Buffer.from(leb(name.length)), name, payload]);
  const header = Buffer.from([0, ...leb(contents.length)]);
  return Buffer.concat([Buffer.from(component), header, contents]);
}

/// One ES module holding every route, in route-table order, and the runtime that serves them.
async function bundle(esbuild, job) {
  const imports = job.routes
    .map((route, i) => `import * as route${i} from ${JSON.stringify(route.path)};`)
    .join('\n');
  const table = job.routes
    .map(
      (route, i) =>
        `  [${JSON.stringify(route.pattern)}, ${JSON.stringify(route.relative)}, route${i}],`,
    )
    .join('\n');
  const entry = [
    // First, so routes see the globals even in their top-level code.
    `import ${JSON.stringify(join(runtime, 'globals.js'))};`,
    `import { serve } from ${JSON.stringify(join(runtime, 'serve.js'))};`,
    imports,
    `export const incomingHandler = serve([\n${table}\n]);`,
  ].join('\n');
  let result;
  try {
    result = await esbuild.build({
      stdin: { contents: entry, resolveDir: job.app, sourcefile: 'routelet-routes.js' },
      bundle: true,
      write: false,
      // Never written: the map turns the engine's bundle lines back into source lines.
      absWorkingDir: job.app,
      outfile: join(job.app, 'routes.js'),
      sourcemap: 'external',
      sourcesContent: false,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      mainFields: ['browser', 'module', 'main'],
      conditions: ['worker', 'browser', 'import', 'default'],
      resolveExtensions: ['.ts', '.mts', '.js', '.mjs', '.json'],
      external: ['routelet:route/*', 'wasi:*'],
      plugins: [hostModules(job.app)],
      logLevel: 'silent',
      legalComments: 'none',
      charset: 'utf8',
      // As every bundler for production does, and as Next.js does for its builds.
      define: { 'process.env.NODE_ENV': '"production"' },
    });
  } catch (error) {
    fail(describe(error.errors ?? [], job.app) || String(error));
  }
  const file = (suffix) => result.outputFiles.find((f) => f.path.endsWith(suffix)).text;
  return { code: file('routes.js'), map: file('routes.js.map') };
}

/// Rewrites the engine's `<bundle>.js:LINE:COL` in `message` as the source file's own line and
/// column, so an error while snapshotting names the route (or package) file it came from.
function toSourceLines(message, key, map, app) {
  const traced = new TraceMap(map);
  return message.replace(
    new RegExp(`\\S*${key}\\.js:(\\d+):(\\d+)`, 'g'),
    (whole, line, column) => {
      const at = originalPositionFor(traced, { line: Number(line), column: Number(column) - 1 });
      if (!at.source) return whole;
      const source = relative(app, join(app, at.source));
      return `${source}:${at.line}:${at.column + 1}`;
    },
  );
}

/// `routelet` is the runtime's capability module; Node built-ins are the runtime's stand-ins or a
/// build error naming the import; `next` is types only.
function hostModules(app) {
  const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
  return {
    name: 'routelet-host-modules',
    setup(build) {
      build.onResolve({ filter: /^routelet$/ }, () => ({ path: join(runtime, 'routelet.js') }));
      build.onResolve({ filter: /^next(\/.*)?$/ }, (args) => ({
        errors: [
          {
            text:
              `${JSON.stringify(args.path)} is imported for its values, but Routelet provides ` +
              `only its types: write \`import type { NextApiRequest, NextApiResponse } from 'next'\``,
          },
        ],
      }));
      build.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
        if (!builtins.has(args.path)) return undefined;
        const bare = args.path.replace(/^node:/, '');
        if (PROVIDED[bare]) return { path: join(runtime, PROVIDED[bare]) };
        const importer = args.importer ? relative(app, args.importer) : 'a route';
        // Inside node_modules, the package is what the user knows by name.
        const inPackage = /(?:^|[\\/])node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(importer);
        const who = inPackage ? `the npm package ${inPackage[1]} (${importer})` : importer;
        return {
          errors: [
            {
              text:
                `${who} imports the Node.js built-in module ${JSON.stringify(args.path)}, ` +
                `which Routelet routes do not have (they get web APIs: fetch, URL, ` +
                `TextEncoder, crypto, and Buffer and process.env)`,
            },
          ],
        };
      });
    },
  };
}

/// esbuild's messages as `file:line:column: text`, relative to the app.
function describe(errors, app) {
  return errors
    .map((e) => {
      const where = e.location
        ? `${relative(app, join(app, e.location.file))}:${e.location.line}:${e.location.column + 1}: `
        : '';
      const line = e.location?.lineText ? `\n    ${e.location.lineText.trim()}` : '';
      return `${where}${e.text}${line}`;
    })
    .join('\n');
}

/// The WIT the component is built against, in one folder of the cache: our world, Routelet's
/// packages, the key-value draft, and WASI at the engine's release (from jco's copies of WASI).
async function assembleWit(cacheDir) {
  const routeletWit = join(sdk, '..', 'wit');
  const files = [];
  files.push(['world.wit', await readFile(join(sdk, 'wit', 'world.wit'), 'utf8')]);
  for (const name of await readdir(routeletWit)) {
    if (name.endsWith('.wit')) {
      files.push([`deps/routelet/${name}`, await readFile(join(routeletWit, name), 'utf8')]);
    }
  }
  const keyvalue = join(routeletWit, 'deps', 'keyvalue');
  for (const name of await readdir(keyvalue)) {
    files.push([`deps/keyvalue/${name}`, await readFile(join(keyvalue, name), 'utf8')]);
  }
  const jco = packageDir('@bytecodealliance/jco');
  const wasi = join(jco, 'lib', 'wit', 'builtin', '0.2.12');
  for (const name of await readdir(wasi)) {
    let text = await readFile(join(wasi, name, 'package.wit'), 'utf8');
    text = text.replaceAll('@0.2.12', `@${ENGINE_WASI}`);
    // Added in 0.2.12, after the engine's release.
    text = text.replace(/^\s*exit-with-code: func\(status-code: u8\);\n/m, '');
    files.push([`deps/${name}/package.wit`, text]);
  }
  const digest = createHash('sha256');
  for (const [name, text] of files) digest.update(name).update('\0').update(text).update('\0');
  const hex = digest.digest('hex');
  const dir = join(cacheDir, `wit-${hex.slice(0, 16)}`);
  if (!existsSync(join(dir, 'world.wit'))) {
    const partial = `${dir}.partial-${process.pid}`;
    for (const [name, text] of files) {
      await mkdir(dirname(join(partial, name)), { recursive: true });
      await writeFile(join(partial, name), text);
    }
    await rename(partial, dir).catch(() => {});
  }
  return { dir, digest: hex };
}

/// The tools' versions and the runtime's sources: a change to any of them rebuilds.
async function toolVersions() {
  const digest = createHash('sha256');
  for (const name of ['@bytecodealliance/componentize-js', 'esbuild']) {
    const manifest = join(packageDir(name), 'package.json');
    digest.update(`${name}@${JSON.parse(await readFile(manifest, 'utf8')).version}\0`);
  }
  // This file too: it shapes the component (the reuse section).
  digest.update(await readFile(fileURLToPath(import.meta.url))).update('\0');
  for (const name of (await readdir(runtime)).sort()) {
    digest.update(name).update('\0').update(await readFile(join(runtime, name))).update('\0');
  }
  return digest.digest('hex');
}

/// Where an installed package is: at the top of node_modules, or below the package that needs it.
function packageDir(name) {
  for (const dir of [
    join(sdk, 'node_modules', name),
    join(sdk, 'node_modules', '@bytecodealliance', 'componentize-js', 'node_modules', name),
  ]) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  fail(`${name} is not installed in ${join(sdk, 'node_modules')}: run \`npm ci\` there`);
}

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

main().catch((error) => fail(error.stack ?? String(error)));
