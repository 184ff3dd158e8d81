// The fakes listen and read bodies as the local demo servers do (one copy, in local/).
export { listenOnLoopback, readBody } from '../../local/demo/http.ts';
