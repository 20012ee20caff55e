import { fileURLToPath } from 'node:url';
import { AddressRateLimiter } from '../../identity/address-rate.ts';
import { defineErrors } from '../../http/errors.ts';
import { ConfigError } from '../../infra/config.ts';
import { AuditLog } from '../../audit/audit-log.ts';
import type { Capability, CapabilityRuntime, OperationHandler, PlatformServices } from '../types.ts';
import { CAPABILITY, resolveSettings, type OneClickLoginBootstrap } from './settings.ts';
import { TokenStore } from './tokens.ts';
import { createToken } from './issuance.ts';
import { login, verify } from './exchange.ts';

defineErrors({
  // CAMARA Number Verification answers 403 NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK for the same case.
  'ONE_CLICK_LOGIN.NOT_ON_MOBILE_NETWORK': { status: 403, message: 'The device is not connected through the mobile data network of this operator.' },
  'ONE_CLICK_LOGIN.TOKEN_APPLICATION_MISMATCH': { status: 403, message: 'The token was issued to another application.' },
  'ONE_CLICK_LOGIN.TOKEN_INVALID': { status: 422, message: 'The token is not known.' },
  'ONE_CLICK_LOGIN.TOKEN_EXPIRED': { status: 422, message: 'The token has expired.' },
  'ONE_CLICK_LOGIN.TOKEN_ALREADY_USED': { status: 422, message: 'The token has already been used.' },
  'ONE_CLICK_LOGIN.SUBSCRIBER_CHANGED': { status: 422, message: 'The device the token was issued to no longer holds its network address.' },
  'ONE_CLICK_LOGIN.SIM_SWAPPED': { status: 422, message: 'The SIM of this number was changed recently, or its history is unknown; use another login method.' },
});

const DOCUMENT = fileURLToPath(new URL('../../../openapi/one-click-login.yaml', import.meta.url));

function create(services: PlatformServices): CapabilityRuntime {
  const { redis, key, store, limits, vault, trustedProxies, southbound, config } = services;
  if (!southbound) {
    throw new ConfigError('one-click-login needs a network: set SUBSCRIBER_API_URL, or run the simulators role in this process');
  }
  const settings = resolveSettings((config.bootstrap as { oneClickLogin?: OneClickLoginBootstrap }).oneClickLogin);
  const tokens = new TokenStore(redis, key);
  const audit = new AuditLog(redis, key);
  // Keyed on the address alone: behind CGNAT every connection has a new source port, so a per-port count would limit nothing.
  const perAddress = new AddressRateLimiter(redis, key, 'ock-addr', settings.addressRate);
  const issuance = { tokens, perAddress, store, limits, vault, audit, trustedProxies, addresses: southbound.addresses, settings };
  const exchange = { tokens, vault, audit, addresses: southbound.addresses, sims: southbound.sims, settings };
  const handlers: Record<string, OperationHandler> = {
    createToken: (req, ctx) => createToken(issuance, req, ctx),
    login: (req, ctx) => login(exchange, req, ctx),
    verify: (req, ctx) => verify(exchange, req, ctx),
  };
  // An exchange starts by reading its token's record: that read goes to Redis with the rate-limit check.
  const peek = (req: { body: { token: string } }) => tokens.peek(req.body.token);
  return { apis: [{ document: DOCUMENT, handlers, prefetch: { login: peek, verify: peek } }] };
}

/**
 * One-click login (carrier "number authentication", 一键登录 / 本机号码校验): the network tells an
 * app's server which phone number the app runs on, with no SMS code.
 */
export const oneClickLogin: Capability = {
  id: CAPABILITY,
  title: 'One-click login',
  description: 'Log users in or bind their number without SMS codes: the mobile data path identifies the phone, the app server exchanges a single-use token.',
  documents: [DOCUMENT],
  create,
};
