/** The HTTP API's public face: the Request -> Response handler and its building blocks. */
export { type ApiHandler, type ApiOptions, createApiHandler } from "./router.ts";
export type { ApiLimits } from "./context.ts";
export { problemContentType, problems, problemTypeBase } from "./errors.ts";
export { percentDecode, percentEncode } from "./codec.ts";
