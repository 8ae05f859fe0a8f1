// Storage accounts that hold only ingested sessions, for when one account's transaction budget is
// not enough (docs/capacity.md). The app places each customer's sessions on one of them by a
// stable hash of its slug; keys, usage and the host state stay in the main account. Zero by
// default: sessions then live in the main account. Shared-key access is disabled, as there.
param namePrefix string
param token string
param location string
param tags object
param skuName string
@minValue(0)
@maxValue(16)
param count int

resource accounts 'Microsoft.Storage/storageAccounts@2023-05-01' = [
  for i in range(0, count): {
    name: '${namePrefix}${i}${token}'
    location: location
    tags: tags
    kind: 'StorageV2'
    sku: {
      name: skuName
    }
    properties: {
      accessTier: 'Hot'
      allowSharedKeyAccess: false
      allowBlobPublicAccess: false
      defaultToOAuthAuthentication: true
      minimumTlsVersion: 'TLS1_2'
      supportsHttpsTrafficOnly: true
      publicNetworkAccess: 'Enabled'
    }
  }
]

output names array = [for i in range(0, count): accounts[i].name]
// Comma-separated, without trailing slashes: the app's SESSIONS_TABLES_ENDPOINTS.
output tableEndpoints string = join([for i in range(0, count): 'https://${accounts[i].name}.table.${environment().suffixes.storage}'], ',')
