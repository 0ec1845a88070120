export {
  DEFAULT_RESPONSE_HEADER_TIMEOUT_MS,
  DEFAULT_RETRY,
} from './options.ts';
export { Router, RouterListener } from './router.ts';
export type {
  ListenOptions,
  RetryPolicy,
  RouterCounters,
  RouterProtocol,
  RouteTarget,
  UpstreamAddress,
} from './types.ts';
