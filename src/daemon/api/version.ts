/** The version of Aegis, shared by the daemon and the CLI. */
export const VERSION = '0.1.0';

/** The API's version; it is the first segment of every path. */
export const API_VERSION = 'v1';
