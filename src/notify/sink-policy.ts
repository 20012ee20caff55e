import { ApiError } from '../http/errors.ts';
import type { Application } from '../tenancy/types.ts';
import type { SinkCredential } from './types.ts';

/** CAMARA `sink`: `format: uri, maxLength: 2048`. */
export const MAX_SINK_LENGTH = 2048;

/** CAMARA_event_common `AccessTokenCredential.accessToken` maxLength. */
const MAX_ACCESS_TOKEN_LENGTH = 4096;

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Host names and addresses that can only reach this machine. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '[::1]';
}

function bare(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

/**
 * Why a URL may not be called, or undefined when it may. The Event Subscription guide allows only
 * https sinks; outside production plain http is allowed to loopback hosts, for local development.
 */
export function urlRefusal(raw: string, production: boolean): string | undefined {
  if (typeof raw !== 'string' || raw.length === 0) return 'it is empty';
  if (raw.length > MAX_SINK_LENGTH) return `it is longer than ${MAX_SINK_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'it is not an absolute URL';
  }
  if (url.username || url.password) return 'it carries user information';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && !production && isLoopback(url.hostname)) return undefined;
  return production ? 'only https is allowed' : 'only https is allowed (or http to a loopback host outside production)';
}

/** Why a sink may not be used by this application, or undefined. */
export function sinkRefusal(raw: string, app: Pick<Application, 'notificationHosts'>, production: boolean): string | undefined {
  const refusal = urlRefusal(raw, production);
  if (refusal) return refusal;
  const hosts = app.notificationHosts.map(bare);
  if (hosts.length > 0 && !hosts.includes(bare(new URL(raw).hostname))) return 'its host is not one of the notification hosts registered for the application';
  return undefined;
}

/** Throws 400 INVALID_SINK unless the application may use the sink. */
export function checkSink(raw: string, app: Pick<Application, 'notificationHosts'>, production: boolean): void {
  const refusal = sinkRefusal(raw, app, production);
  if (refusal) throw new ApiError('INVALID_SINK', `sink not valid: ${refusal}`);
}

/** True when an RFC 3339 expiry is missing, malformed or past. */
export function accessTokenExpired(credential: SinkCredential, now = Date.now()): boolean {
  const at = credential.accessTokenExpiresUtc;
  return !at || !RFC3339.test(at) || Date.parse(at) <= now;
}

/**
 * Checks a sink credential (CAMARA_event_common 0.8): ACCESSTOKEN needs a bearer token that has not
 * expired; PRIVATE_KEY_JWT needs the client's token endpoint and our client id there, pre-shared
 * at onboarding, otherwise 422 PRIVATE_KEY_JWT_NOT_CONFIGURED.
 */
export function checkCredential(credential: SinkCredential, app: Application, production: boolean, now = Date.now()): void {
  switch (credential?.credentialType) {
    case 'ACCESSTOKEN': {
      const { accessToken, accessTokenExpiresUtc, accessTokenType } = credential;
      if (typeof accessToken !== 'string' || accessToken.length === 0 || accessToken.length > MAX_ACCESS_TOKEN_LENGTH) {
        throw new ApiError('INVALID_CREDENTIAL', `an ACCESSTOKEN credential needs an accessToken of 1 to ${MAX_ACCESS_TOKEN_LENGTH} characters`);
      }
      if (typeof accessTokenExpiresUtc !== 'string' || !RFC3339.test(accessTokenExpiresUtc) || Number.isNaN(Date.parse(accessTokenExpiresUtc))) {
        throw new ApiError('INVALID_CREDENTIAL', 'an ACCESSTOKEN credential needs accessTokenExpiresUtc, an RFC 3339 date-time with a time zone');
      }
      if (accessTokenType !== 'bearer') throw new ApiError('INVALID_TOKEN', 'only bearer access tokens are supported');
      if (accessTokenExpired(credential, now)) throw new ApiError('INVALID_TOKEN', 'the sink access token has already expired');
      return;
    }
    case 'PRIVATE_KEY_JWT': {
      if (!app.sinkTokenEndpoint || !app.sinkClientId) {
        throw new ApiError('PRIVATE_KEY_JWT_NOT_CONFIGURED', 'PRIVATE_KEY_JWT needs a sink token endpoint and client id registered for the application at onboarding');
      }
      const refusal = urlRefusal(app.sinkTokenEndpoint, production);
      if (refusal) throw new ApiError('PRIVATE_KEY_JWT_NOT_CONFIGURED', `the registered sink token endpoint cannot be used: ${refusal}`);
      return;
    }
    default:
      throw new ApiError('INVALID_CREDENTIAL', 'credentialType must be ACCESSTOKEN or PRIVATE_KEY_JWT');
  }
}
