// The globals npm packages expect beside the web platform's own: `Buffer`, `process`, `global`.

import { Buffer } from './buffer.js';
import process from './process.js';

globalThis.Buffer ??= Buffer;
globalThis.process ??= process;
globalThis.global ??= globalThis;
