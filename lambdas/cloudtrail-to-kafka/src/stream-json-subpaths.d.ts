// stream-json publishes its modules through package.json "exports" ("./*" -> "./src/*"), which Node and esbuild
// follow; the root project type-checks with moduleResolution "node", which ignores "exports". These declarations
// give the two subpaths the handler imports the types of the files they resolve to.
declare module "stream-json/filters/pick.js" {
  export * from "stream-json/src/filters/pick.js";
}
declare module "stream-json/streamers/stream-array.js" {
  export * from "stream-json/src/streamers/stream-array.js";
}
