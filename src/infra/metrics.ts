import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';

/** The Prometheus metrics of one gateway instance (one registry, so tests can build many). */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'operation' | 'method' | 'status_code'>;
  httpDuration: Histogram<'operation' | 'method' | 'status_code'>;
  jobDuration: Histogram<'queue' | 'name' | 'outcome'>;
  queueDepth: Gauge<'queue' | 'state'>;
  /** RADIUS accounting (RFC 2866) datagrams received, by what became of them (see adapters/radius). */
  radiusAccounting: Counter<'result'>;
}

/**
 * Creates the registry. `operation` is the operationId (or a fixed name such as `oauth2.token`),
 * never the raw URL, so label cardinality stays bounded whatever clients send.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'gateway_' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'gateway_http_requests_total',
      help: 'HTTP requests answered, by operation and status code',
      labelNames: ['operation', 'method', 'status_code'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'gateway_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by operation and status code',
      labelNames: ['operation', 'method', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: 'gateway_job_duration_seconds',
      help: 'Time a worker spent on a job, by queue, job name and outcome',
      labelNames: ['queue', 'name', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'gateway_queue_jobs',
      help: 'Jobs in each queue by state, read when metrics are scraped',
      labelNames: ['queue', 'state'],
      registers: [registry],
    }),
    radiusAccounting: new Counter({
      name: 'gateway_radius_accounting_packets_total',
      help: 'RADIUS accounting datagrams received, by result (recorded, duplicate, or why they were dropped)',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}
