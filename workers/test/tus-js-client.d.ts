// The browser build of tus-js-client (Blob sources, pluggable HTTP stack) is what the upload tests run in workerd;
// its types are the package's own.
declare module "tus-js-client/lib.esm/browser/index.js" {
  export * from "tus-js-client";
}
