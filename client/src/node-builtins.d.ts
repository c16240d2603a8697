/**
 * The few Node built-ins client/src/node.ts uses, declared for the type check: the project has
 * no @types/node (its Workers code must not see Node's globals). Signatures are narrowed to the
 * calls made here; with @types/node installed these merge as extra overloads.
 */
declare module "node:fs/promises" {
  export interface FileHandle {
    writeFile(data: string): Promise<void>;
    sync(): Promise<void>;
    close(): Promise<void>;
  }
  export function mkdir(path: string, options: { recursive: true }): Promise<string | undefined>;
  export function open(path: string, flags: "w"): Promise<FileHandle>;
  export function readdir(path: string): Promise<string[]>;
  export function readFile(path: string): Promise<Uint8Array>;
  export function readFile(path: string, encoding: "utf8"): Promise<string>;
  export function rename(from: string, to: string): Promise<void>;
  export function rm(path: string, options: { recursive: true; force: true }): Promise<void>;
  export function writeFile(path: string, data: Uint8Array): Promise<void>;
}

declare module "node:path" {
  export function dirname(path: string): string;
  export function isAbsolute(path: string): boolean;
  export function join(...paths: string[]): string;
  export function relative(from: string, to: string): string;
  export function resolve(...paths: string[]): string;
}

declare module "node:zlib" {
  export function zstdDecompressSync(
    data: Uint8Array,
    options: { dictionary: Uint8Array; maxOutputLength: number },
  ): Uint8Array;
}
