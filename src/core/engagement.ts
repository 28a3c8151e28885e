/** Opens and clicks, people's and machines' apart, as the rollups count them (src/db/reports.ts). */
import type { MailingEngagement } from '../db/reports.js';

/** A mailing with no open or click yet. */
export const NO_ENGAGEMENT: Readonly<MailingEngagement> = {
  opens: 0,
  opens_unique: 0,
  clicks: 0,
  clicks_unique: 0,
  machine_opens: 0,
  machine_opens_unique: 0,
  machine_clicks: 0,
  machine_clicks_unique: 0,
};
