import { createHash, randomUUID } from 'node:crypto';
import { describeAddress } from '../../identity/client-address.ts';
import { ApiError } from '../../http/errors.ts';
import { safeEqual } from '../../auth/secrets.ts';
import type { NumberVault } from '../../identity/number-vault.ts';
import type { AddressResolver, SimHistory } from '../../../adapters/ports.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { ApiRequest, Reply, RequestContext } from '../types.ts';
import { CAPABILITY, policyOf, type OneClickLoginSettings } from './settings.ts';
import type { Consumed, TokenStore } from './tokens.ts';

/** How an exchange is written to the audit log, once its judgement is known. */
type Entry<T> = (judgement: T) => { outcome: string; reference?: string };

export interface ExchangeDeps {
  tokens: TokenStore;
  vault: NumberVault;
  audit: AuditLog;
  addresses?: AddressResolver;
  sims?: SimHistory;
  settings: OneClickLoginSettings;
}

type Live = Extract<Consumed, { verdict: 'OK' }>;
/** What a judgement needs to know about the token's device. */
type Facts = { address: string; port?: number; numberHmac: string };

const REFUSALS = {
  INVALID: 'ONE_CLICK_LOGIN.TOKEN_INVALID',
  MISMATCH: 'ONE_CLICK_LOGIN.TOKEN_APPLICATION_MISMATCH',
  USED: 'ONE_CLICK_LOGIN.TOKEN_ALREADY_USED',
  EXPIRED: 'ONE_CLICK_LOGIN.TOKEN_EXPIRED',
} as const;

/** Appends an attempt's audit entry on its own (the consuming script writes the usual one). */
function record(deps: ExchangeDeps, ctx: RequestContext, e: { outcome: string; reference?: string }, c?: Facts): Promise<string> {
  return deps.audit.append(ctx.principal!.tenantId, auditEntry(ctx, e, c ?? { address: '', numberHmac: '' }));
}

/**
 * Consumes the token for the calling application, or answers why not. Every attempt is audited:
 * replays and other applications' attempts are what an operator looks for after an incident.
 * Another application's attempt records nothing about the subscriber: it has no right to know.
 */
async function consume(deps: ExchangeDeps, token: string, ctx: RequestContext, known?: Parameters<TokenStore['consume']>[3]): Promise<Live & { audited?: boolean }> {
  const c = await deps.tokens.consume(token, ctx.principal!.clientId, Date.now(), known);
  if (c.verdict === 'OK') return c;
  const code = REFUSALS[c.verdict];
  await record(deps, ctx, { outcome: code }, c.verdict === 'USED' || c.verdict === 'EXPIRED' ? c : undefined);
  throw new ApiError(code);
}

/**
 * Does the address the token was issued to still belong to the same subscriber? If not, the
 * phone left the network or the address went to another phone since: what the network said at
 * issuance can no longer be confirmed.
 */
async function stillHeld(deps: ExchangeDeps, c: Facts): Promise<boolean> {
  const msisdn = await deps.addresses?.msisdnAt(c.address, c.port);
  return !!msisdn && safeEqual(deps.vault.hmac(msisdn), c.numberHmac);
}

/**
 * Was the number's SIM swapped within the application's window? After a swap, possession of the
 * SIM proves nothing about who owns the number (the classic account take-over), so the gateway
 * does not vouch for it. Not knowing the SIM history counts as a recent swap: the check exists to
 * fail closed.
 */
async function recentlySwapped(deps: ExchangeDeps, windowHours: number | undefined, msisdn: string): Promise<boolean> {
  if (!windowHours) return false;
  const info = deps.sims ? await deps.sims.simInfo(msisdn) : undefined;
  if (!info) return true;
  const cutoff = Date.now() - windowHours * 3_600_000;
  return info.swapped && !(Date.parse(info.latestSimChange) <= cutoff);
}

/**
 * Asks the network both questions at once (one round trip of latency, not two): does the device
 * still hold its address, and was the SIM swapped within the window? The device's own answer
 * decides first: when it no longer holds the address, the SIM question does not matter, not even
 * when it could not be answered.
 */
async function askNetwork(deps: ExchangeDeps, c: Facts, msisdn: string, windowHours: number | undefined): Promise<{ held: boolean; swapped: boolean }> {
  const [held, swapped] = await Promise.allSettled([stillHeld(deps, c), recentlySwapped(deps, windowHours, msisdn)]);
  if (held.status === 'rejected') throw held.reason;
  if (!held.value) return { held: false, swapped: false };
  if (swapped.status === 'rejected') throw swapped.reason;
  return { held: true, swapped: swapped.value };
}

/**
 * Exchanges a token: `judge` looks at the number and asks the network what it needs to, then the
 * token is consumed. The network is asked first, while the token is still intact: when it cannot
 * answer (503) the app can retry with the same token instead of starting the login over. A token
 * that is not live (unknown, used, expired, another application's) skips the network and gets
 * its refusal from {@link consume}, the one atomic decision.
 */
async function exchange<T>(deps: ExchangeDeps, token: string, ctx: RequestContext, judge: (msisdn: string, c: Facts) => Promise<T>, entry: Entry<T>): Promise<{ msisdn: string; c: Live; judgement: T }> {
  // The record was read with the request's admission when the router did (prefetch); else now.
  const peek = await ((ctx.prefetched as ReturnType<TokenStore['peek']> | undefined) ?? deps.tokens.peek(token));
  const live = !!peek?.sealedNumber && peek.clientId === ctx.principal!.clientId && peek.state === 'ISSUED' && Date.now() < peek.expiresAt;
  let msisdn = live ? deps.vault.open(peek.sealedNumber) : undefined;
  let judgement = msisdn !== undefined ? { value: await judge(msisdn, peek!) } : undefined;
  // Judged already: the token leaves its number's unused count and the audit entry is written in
  // the very step that consumes it.
  const known = judgement && { numberHmac: peek!.numberHmac, audit: deps.audit.prepare(ctx.principal!.tenantId, auditEntry(ctx, entry(judgement.value), peek!)) };
  const c = await consume(deps, token, ctx, known);
  // Judged after all only when the record appeared between the two reads, which a random token cannot do.
  msisdn ??= deps.vault.open(c.sealedNumber);
  judgement ??= { value: await judge(msisdn, c) };
  if (!c.audited) await record(deps, ctx, entry(judgement.value), c);
  return { msisdn, c, judgement: judgement.value };
}

function auditEntry(ctx: RequestContext, e: { outcome: string; reference?: string }, c: Facts) {
  const principal = ctx.principal!;
  return {
    clientId: principal.clientId,
    operation: `${CAPABILITY}.${ctx.operationId}`,
    outcome: e.outcome,
    numberHmac: c.numberHmac,
    address: describeAddress(c),
    correlator: ctx.correlator,
    reference: e.reference,
  };
}

/** `login`: the token's phone number, to the server of the application the token was issued to. */
export async function login(deps: ExchangeDeps, req: ApiRequest<{ token: string }>, ctx: RequestContext): Promise<Reply> {
  const policy = policyOf(ctx.principal!.plan, deps.settings);
  const { msisdn, judgement: refusal } = await exchange(
    deps,
    req.body.token,
    ctx,
    async (number, facts) => {
      const { held, swapped } = await askNetwork(deps, facts, number, policy.simSwapWindowHours);
      if (!held) return 'ONE_CLICK_LOGIN.SUBSCRIBER_CHANGED' as const;
      if (swapped) return 'ONE_CLICK_LOGIN.SIM_SWAPPED' as const;
      return undefined;
    },
    (refused) => ({ outcome: refused ?? 'SUCCESS' }),
  );
  if (refusal) throw new ApiError(refusal);
  return { status: 200, body: { phoneNumber: msisdn } };
}

interface VerifyBody {
  token: string;
  phoneNumber?: string;
  hashedPhoneNumber?: string;
}

/**
 * `verify`: is the claimed number the phone's own? UNKNOWN (cannot vouch) comes first where it
 * concerns the device itself (its address changed hands); a SIM swap matters only for a number
 * that would PASS, so a wrong number is rejected without asking about the SIM.
 */
export async function verify(deps: ExchangeDeps, req: ApiRequest<VerifyBody>, ctx: RequestContext): Promise<Reply> {
  const { token, phoneNumber, hashedPhoneNumber } = req.body;
  // The document's oneOf already says so; kept here so the handler is safe on its own.
  if ((phoneNumber === undefined) === (hashedPhoneNumber === undefined)) {
    throw new ApiError('INVALID_ARGUMENT', 'give exactly one of phoneNumber and hashedPhoneNumber');
  }
  const policy = policyOf(ctx.principal!.plan, deps.settings);
  const verifyId = randomUUID();
  const { judgement: verifyResult } = await exchange(deps, token, ctx, async (msisdn, facts) => {
    const matches =
      phoneNumber !== undefined
        ? safeEqual(deps.vault.hmac(phoneNumber), facts.numberHmac)
        : safeEqual(createHash('sha256').update(msisdn).digest('hex'), hashedPhoneNumber!.toLowerCase());
    // The SIM history only matters for a number that would PASS.
    const { held, swapped } = await askNetwork(deps, facts, msisdn, matches ? policy.simSwapWindowHours : undefined);
    if (!held) return 'UNKNOWN' as const;
    if (!matches) return 'REJECT' as const;
    if (swapped) return 'UNKNOWN' as const;
    return 'PASS' as const;
  }, (result) => ({ outcome: result, reference: verifyId }));
  return { status: 200, body: { verifyResult, verifyId } };
}
