// YAML config files are bundled as text by wrangler's `Text` module rule (see wrangler.toml), so
// workers read no files at run time; they are parsed and validated at isolate start.
declare module '*.yaml' {
  const text: string;
  export default text;
}
