// One account for the Functions host (leases, timer state, the deployment package), the
// service's tables, and its queue of webhook deliveries (the queue-triggered function listens to it
// through the host's AzureWebJobsStorage connection; the app sends to it at QUEUES_ENDPOINT). Shared-key access is disabled: nothing can use an account key or SAS signed
// with one; every caller authenticates with Entra ID.
param name string
param location string
param tags object
param skuName string

@description('Blob container Flex Consumption deploys the app package from.')
param deploymentContainerName string = 'app-package'

@description('The queue of webhook delivery attempts (shared/adapters/queue/queue-names.ts; TABLES_PREFIX is not set in Azure).')
param webhookQueueName string = 'webhook-deliveries'

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

  resource queues 'queueServices' = {
    name: 'default'

    resource webhookDeliveries 'queues' = {
      name: webhookQueueName
    }
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
// The same account's queues (QUEUES_ENDPOINT): where webhook deliveries are queued.
output queueEndpoint string = 'https://${account.name}.queue.${environment().suffixes.storage}'
