// One account for the Functions host (leases, timer state, the deployment package) and for the
// service's tables. Shared-key access is disabled: nothing can use an account key or SAS signed
// with one; every caller authenticates with Entra ID.
param name string
param location string
param tags object
param skuName string

@description('Blob container Flex Consumption deploys the app package from.')
param deploymentContainerName string = 'app-package'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
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

  resource blobs 'blobServices' = {
    name: 'default'

    resource deployment 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }
}

output name string = account.name
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainerName}'
// Without a trailing slash: the Table client appends the table name to it.
output tableEndpoint string = 'https://${account.name}.table.${environment().suffixes.storage}'
