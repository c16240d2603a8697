/**
 * Web platform type names that Node 22 has at runtime (globalThis.CryptoKey, WebCrypto JWKs, web
 * streams) but @types/node declares only inside its modules. The runtime-agnostic code the Node
 * programs also compile (core/, client/src) names them as globals, the way workerd's types do;
 * these aliases point the names at @types/node's own declarations. Nothing is re-declared by hand.
 */
import type { webcrypto } from "node:crypto";
import type { ReadableStreamReadResult as NodeReadableStreamReadResult } from "node:stream/web";

declare global {
  type CryptoKey = webcrypto.CryptoKey;
  type JsonWebKey = webcrypto.JsonWebKey;
  type ReadableStreamReadResult<T> = NodeReadableStreamReadResult<T>;
}
