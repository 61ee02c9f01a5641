/**
 * A link that opens a resource in the Azure portal. The `#@/resource{id}` form opens the
 * resource blade in whichever directory the viewer is signed in to (portal deep-link format
 * used by the portal's own "copy link"). Sovereign clouds have other portal hosts.
 */
export function portalResourceUrl(resourceId: string, portalHost = 'https://portal.azure.com'): string {
  return `${portalHost}/#@/resource${resourceId}`;
}
