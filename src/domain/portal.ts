/**
 * Deep links into the Azure portal for the resources an approval card shows.
 *
 * Format: `https://{portalHost}/#@{tenant}/resource{resourceId}` where `{resourceId}` is the
 * ARM ID with its leading slash (`/subscriptions/…/providers/Microsoft.KeyVault/vaults/kv`).
 * The `@{tenant}` segment (a tenant ID or verified domain) makes the portal switch to the
 * directory that owns the resource, which matters when an approver belongs to several
 * tenants; without a tenant the link is `https://{portalHost}/#resource{resourceId}` and the
 * portal opens it in the user's current directory. `portalHost` is there for sovereign clouds
 * (e.g. `portal.azure.us`). A blade (`…/resource{resourceId}/networking`) opens the page where the
 * resource's private endpoint connections are listed.
 */

export interface PortalLinkOptions {
  readonly tenantId?: string;
  /** A blade of the resource's page, e.g. `networking` (from the resource type registry). */
  readonly blade?: string;
  /** Defaults to the public cloud portal. */
  readonly portalHost?: string;
}

const DEFAULT_PORTAL_HOST = 'portal.azure.com';

export function portalResourceUrl(resourceId: string, options: PortalLinkOptions = {}): string {
  const trimmed = resourceId.trim().replace(/\/+$/, '');
  const path = trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
  const host = (options.portalHost ?? DEFAULT_PORTAL_HOST).replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const tenant = options.tenantId?.trim();
  // encodeURI keeps the slashes of the ARM path but escapes anything that would break the
  // fragment (spaces, quotes) in the rare resource names that contain them.
  const blade = options.blade?.trim().replace(/^\/+|\/+$/g, '');
  const encodedPath = encodeURI(blade ? `${path}/${blade}` : path);
  return tenant ? `https://${host}/#@${encodeURIComponent(tenant)}/resource${encodedPath}` : `https://${host}/#resource${encodedPath}`;
}
