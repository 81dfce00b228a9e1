/** The installation library: `createBeacon` and the types a host needs around it. */
export { createBeacon } from './beacon.js';
export type { Beacon, BeaconFailure, BeaconStatus, DeliveryResult, PreviewResult, RunResult, TickResult } from './beacon.js';
export { envOptsOut } from './options.js';
export type { BeaconMode, BeaconOptions, ExactValues } from './options.js';
export type { FetchLike } from './push.js';
export type { Delivery } from './state.js';
export type { Logger } from '../server/http.js';
export { WELL_KNOWN_PATH, answerWellKnown, etagOf } from './wellknown.js';
export type { WellKnownAnswer } from './wellknown.js';
