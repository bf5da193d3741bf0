// Node provides WebAssembly as a global, but TypeScript only types it in lib.dom, which would
// wrongly put browser globals in scope of server code. These are the parts the migrator uses.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, unknown>);
    readonly exports: Record<string, unknown>;
  }
}
