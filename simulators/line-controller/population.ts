/**
 * The lines the simulator starts with (and returns to on reset): the demo tenant's two lines from
 * its invoicing cloud to the hubs that collect its tax devices' data. Sites and addresses are
 * made up.
 */
import type { LineSpec } from './types.ts';

/** The enterprise of the demo deployment (config/demo.yaml tenant `invoice-cloud`). */
export const DEMO_CUSTOMER = { id: 'invoice-cloud', name: 'Invoice cloud platform' };

const INVOICE_CLOUD_DC = {
  siteName: 'Invoice cloud data centre (Shanghai Lingang)',
  address: 'Building 3, 200 Data Park Avenue, Lingang New Area, Shanghai',
};

export const SEEDED_LINES: readonly (LineSpec & { id: string })[] = [
  {
    id: 'LINE-INV-01',
    name: 'Invoice cloud DC ↔ Tax hub East',
    aEnd: INVOICE_CLOUD_DC,
    zEnd: { siteName: 'Tax device hub East (Hangzhou Binjiang)', address: 'Unit 5, 18 Binjiang Logistics Park, Hangzhou, Zhejiang' },
    committedMbps: 100,
    portCapacityMbps: 1000,
    // ≈180 km of fibre plus two aggregation rings.
    latencyMs: 5,
    customer: DEMO_CUSTOMER,
  },
  {
    id: 'LINE-INV-02',
    name: 'Invoice cloud DC ↔ Tax hub North',
    aEnd: INVOICE_CLOUD_DC,
    zEnd: { siteName: 'Tax device hub North (Beijing Shunyi)', address: 'Hall B, 66 Airport Industrial Zone Road, Shunyi District, Beijing' },
    committedMbps: 50,
    portCapacityMbps: 500,
    // ≈1,300 km of fibre through the backbone.
    latencyMs: 14,
    customer: DEMO_CUSTOMER,
  },
];
