// Types of node/fetch.mjs (plain JavaScript, loaded by the Node entry without a TypeScript stripper).
export function leanFetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
export function installLeanFetch(): () => void;
