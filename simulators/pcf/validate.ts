/**
 * Request validation: the TS 29.514 schemas when the anchor files are present (otherwise the
 * structural fallback), then the rules the schemas cannot express. Every rejection is a 400 with
 * `invalidParams` (JSON pointers) and one cause:
 * - MANDATORY_IE_MISSING: a required (or conditionally required) attribute is absent;
 * - MANDATORY_IE_INCORRECT: a mandatory attribute (notifUri, suppFeat, the UE address, events) is wrong;
 * - INVALID_SERVICE_INFORMATION (TS 29.514 Table 5.7.3-1): anything else, i.e. the service information.
 */
import type { PcfLogger } from './log.ts';
import { ProblemError, type ProblemCause } from './problem.ts';
import { loadAnchorSchemas, type AnchorSchemas, type SchemaIssue } from './schemas.ts';
import { structuralIssues } from './structural-checks.ts';
import type { AppSessionContextReqData, EventsSubscReqData } from './n5-types.ts';

type RequestSchema = 'AppSessionContext' | 'AppSessionContextUpdateDataPatch' | 'EventsSubscReqData';

const MANDATORY = /^(\/|\/ascReqData|\/ascReqData\/(notifUri|suppFeat|ueIpv4|ueIpv6|ueMac)|(\/ascReqData\/evSubsc)?\/(events|notifUri)(\/.*)?)$/;

export class RequestValidator {
  private readonly anchors: AnchorSchemas | undefined;

  constructor(anchorsDir: string | null, log: PcfLogger) {
    const loaded = loadAnchorSchemas(anchorsDir);
    if (loaded.ok) {
      this.anchors = loaded.schemas;
      log({ level: 'info', msg: 'validating N5 requests against the TS 29.514 OpenAPI schemas', anchorsDir: loaded.schemas.dir });
    } else {
      log({ level: 'warn', msg: 'TS 29.514 anchor schemas unavailable; validating N5 requests with built-in structural checks', reason: loaded.reason });
    }
  }

  /** Which validation is in force: the anchor folder, or `structural`. */
  get mode(): string {
    return this.anchors ? `anchors:${this.anchors.dir}` : 'structural';
  }

  /** Npcf_PolicyAuthorization_Create: the body is an AppSessionContext with `ascReqData`. */
  createRequest(body: unknown): AppSessionContextReqData {
    this.reject(this.schemaIssues('AppSessionContext', body));
    const data = (body as { ascReqData?: AppSessionContextReqData }).ascReqData;
    if (!data) this.reject([{ path: '/ascReqData', missing: true, reason: 'ascReqData is required to create an app session context' }]);
    this.reject(semanticIssues(data!, '/ascReqData'));
    return data!;
  }

  /** Npcf_PolicyAuthorization_Update: an AppSessionContextUpdateDataPatch. */
  patchRequest(body: unknown): { ascReqData?: Record<string, unknown> } {
    this.reject(this.schemaIssues('AppSessionContextUpdateDataPatch', body));
    return body as { ascReqData?: Record<string, unknown> };
  }

  /** The context an update would produce must still be a valid one. */
  updatedContext(data: AppSessionContextReqData): void {
    this.reject(this.schemaIssues('AppSessionContext', { ascReqData: data }));
    this.reject(semanticIssues(data, '/ascReqData'));
  }

  /** PUT .../events-subscription (and the optional body of POST .../delete). */
  eventsSubscription(body: unknown, path = ''): EventsSubscReqData {
    this.reject(this.schemaIssues('EventsSubscReqData', body));
    this.reject(subscriptionIssues(body as EventsSubscReqData, path));
    return body as EventsSubscReqData;
  }

  private schemaIssues(name: RequestSchema, body: unknown): SchemaIssue[] {
    return this.anchors ? this.anchors.validate(name, body) : structuralIssues(name, body);
  }

  private reject(issues: SchemaIssue[]): void {
    if (issues.length === 0) return;
    const cause: ProblemCause = issues.some((i) => i.missing)
      ? 'MANDATORY_IE_MISSING'
      : issues.some((i) => MANDATORY.test(i.path))
        ? 'MANDATORY_IE_INCORRECT'
        : 'INVALID_SERVICE_INFORMATION';
    const shown = issues.slice(0, 10);
    throw new ProblemError(cause, shown.map((i) => `${i.path}: ${i.reason}`).join('; '), {
      invalidParams: shown.map((i) => ({ param: i.path, reason: i.reason })),
    });
  }
}

/** Rules of TS 29.514 §4.2.2.2 and §5.6.2 that the OpenAPI schemas do not carry. */
function semanticIssues(data: AppSessionContextReqData, path: string): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  if (!isHttpUri(data.notifUri)) issues.push({ path: `${path}/notifUri`, missing: false, reason: 'must be an absolute http(s) URI' });
  // §5.6.2.x: "The key of the map is the medCompN attribute" (and fNum for medSubComps).
  for (const [key, mc] of Object.entries(data.medComponents ?? {})) {
    if (String(mc.medCompN) !== key) issues.push({ path: `${path}/medComponents/${key}/medCompN`, missing: false, reason: `must equal the map key ${key}` });
    for (const [fkey, sc] of Object.entries(mc.medSubComps ?? {})) {
      if (sc && String(sc.fNum) !== fkey) issues.push({ path: `${path}/medComponents/${key}/medSubComps/${fkey}/fNum`, missing: false, reason: `must equal the map key ${fkey}` });
    }
  }
  if (data.evSubsc) issues.push(...subscriptionIssues(data.evSubsc, `${path}/evSubsc`));
  return issues;
}

/** §4.2.2.2: "the AF shall include ... the notification URI ... in the notifUri attribute" of evSubsc. */
function subscriptionIssues(s: EventsSubscReqData, path: string): SchemaIssue[] {
  if (s.notifUri === undefined) return [{ path: `${path}/notifUri`, missing: true, reason: 'notifUri is required to subscribe to events' }];
  if (!isHttpUri(s.notifUri)) return [{ path: `${path}/notifUri`, missing: false, reason: 'must be an absolute http(s) URI' }];
  return [];
}

function isHttpUri(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try {
    return ['http:', 'https:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}
