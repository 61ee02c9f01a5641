import { idKey } from './resource-id.js';
import type { ResourceType } from './resource-types.js';

/**
 * The inventory: one entry per private endpoint connection Linkgate has ever seen, in any state
 * and of any registered type, whether Linkgate decided it or not. An entry is written when the
 * connection is first seen and again only when something it records changes (its status, or its
 * endpoint when a name is reused), so a sweep over an unchanged estate writes nothing.
 * Storage layout lives with the adapter (src/adapters/tables/inventory-store.ts).
 */

/** How Linkgate came to look at a connection. */
export const SEEN_VIA = ['event', 'sweep', 'resource-graph', 'manual', 'retry'] as const;
export type SeenVia = (typeof SEEN_VIA)[number];

/**
 * Who settled the connection's current status:
 *   `linkgate`  a rule or a person through Linkgate;
 *   `elsewhere` anyone else (the portal, the CLI, Azure itself when the requester holds the
 *               approval permission), including connections already decided when first seen;
 *   `none`      nobody yet (Pending).
 */
export const DECIDED_BY = ['linkgate', 'elsewhere', 'none'] as const;
export type DecidedBy = (typeof DECIDED_BY)[number];

/** What the out-of-band rules made of an approval Linkgate did not give. */
export const OUT_OF_BAND = ['flagged', 'ignored'] as const;
export type OutOfBandVerdict = (typeof OUT_OF_BAND)[number];

export interface InventoryEntry {
  /** The connection's ID as ARM spelled it. */
  readonly connectionId: string;
  readonly resourceId: string;
  /** The registry key of the resource's type (`keyvault`, `storage`, …). */
  readonly resourceType: string;
  /** The raw status string Azure reports (Pending, Approved, Rejected, Disconnected, or other). */
  readonly status: string;
  readonly privateEndpointId?: string;
  readonly requesterSubscriptionId?: string;
  /** A tenant GUID, or `not-visible` / `unknown` when the requester's subscription could not be resolved. */
  readonly requesterTenantId?: string;
  readonly firstSeenAt: Date;
  readonly firstSeenStatus: string;
  readonly firstSeenVia: SeenVia;
  /** Object ID of whoever requested the connection, when the request's own event named them. */
  readonly createdBy?: string;
  /** When the status last changed as Linkgate saw it (first seen counts as a change). */
  readonly statusChangedAt: Date;
  /** Object ID of whoever made the last status change, when an event's claims named them. */
  readonly statusChangedBy?: string;
  readonly decidedBy: DecidedBy;
  /** The rule or person that decided, for `decidedBy: linkgate` (`rule:<name>` or `user:<object ID>`). */
  readonly decider?: string;
  readonly outOfBand?: OutOfBandVerdict;
  /** The rule that ignored or flagged an out-of-band approval (absent: the default, which flags). */
  readonly outOfBandRule?: string;
  /**
   * What the writer of this entry still owes (its audit entry, its alert), as JSON, from the
   * moment its write won until they are done; a later sweep finishes what a crash left owed.
   */
  readonly owed?: string;
}

/**
 * What the sweep compares against what Azure reports, for every entry at once, and what a
 * rewritten entry keeps of the old one (when and how it was first seen, who created it).
 */
export interface InventoryIndexEntry {
  readonly status: string;
  /** Lower-case private endpoint ID (comparison key), when known. */
  readonly endpointKey?: string;
  readonly decidedBy: DecidedBy;
  readonly firstSeenAt: Date;
  readonly firstSeenStatus: string;
  readonly firstSeenVia: SeenVia;
  readonly createdBy?: string;
  /** The stored version (ETag), for a conditional rewrite. */
  readonly etag?: string;
  /** True while the entry's audit entry or alert is still owed (InventoryEntry.owed). */
  readonly owed?: boolean;
}

/** The comparison fields of a full entry. */
export function indexEntryOf(entry: InventoryEntry): InventoryIndexEntry {
  return {
    status: entry.status,
    ...(entry.privateEndpointId ? { endpointKey: idKey(entry.privateEndpointId) } : {}),
    decidedBy: entry.decidedBy,
    firstSeenAt: entry.firstSeenAt,
    firstSeenStatus: entry.firstSeenStatus,
    firstSeenVia: entry.firstSeenVia,
    ...(entry.createdBy ? { createdBy: entry.createdBy } : {}),
  };
}

export interface InventoryQuery {
  /** Exact raw status, compared case-insensitively. */
  readonly status?: string;
  readonly type?: ResourceType;
  /** A resource's lower-case ID: served from one partition. */
  readonly resourceKey?: string;
  readonly requesterTenantId?: string;
  readonly requesterSubscriptionId?: string;
  readonly decidedBy?: DecidedBy;
  readonly outOfBand?: OutOfBandVerdict;
  /** 1–1000, default 100. */
  readonly pageSize?: number;
  readonly continuationToken?: string;
}

export interface InventoryPage {
  readonly entries: readonly InventoryEntry[];
  readonly continuationToken?: string;
}
