import { auditApi } from './audit-api.js';
import { connectionsApi } from './connections-api.js';
import { messages } from './messages.js';
import type { FunctionSpec } from './registry.js';
import { resourceEvents } from './resource-events.js';
import { reviewsTimer } from './reviews-timer.js';
import { rulesApi } from './rules-api.js';
import { sweep } from './sweep.js';
import { teamsConversationsApi } from './teams-conversations-api.js';
import { ruleProposalActionApi, ruleProposalsApi } from './rule-proposals-api.js';
import { automationApi, replayApi, sweepApi, whoamiApi } from './operate-api.js';

/** Every function of the app; registered with Azure by index.ts and served locally by the dev host. */
export const allFunctions: FunctionSpec[] = [
  resourceEvents,
  auditApi,
  connectionsApi,
  rulesApi,
  ruleProposalsApi,
  ruleProposalActionApi,
  sweep,
  sweepApi,
  whoamiApi,
  automationApi,
  replayApi,
  messages,
  reviewsTimer,
  teamsConversationsApi,
];
