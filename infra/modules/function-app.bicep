// The Function App on the Flex Consumption plan, running as the user-assigned identity.
// Its app settings are the service's configuration (shared/config.ts) plus the few the
// platform reads; test/unit/infra-drift.test.ts fails when the two lists drift apart.
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerUrl string
param tableEndpoint string
@description('Queue endpoint of the same account as storageAccountName: the queue trigger listens there through AzureWebJobsStorage.')
param queueEndpoint string
@description('Table endpoints of the sessions accounts, comma-separated; empty: sessions live in the main account.')
param sessionTableEndpoints string = ''
param keyVaultUrl string
param appInsightsConnectionString string
param portalJwksUrl string
param portalSignInUrl string
param portalJwtIssuer string
param portalJwtAudience string
@description('Plan table overrides as JSON text.')
param plans string
param tenantKeyGracePeriodHours int
param instanceMemoryMB int
param maximumInstanceCount int

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the app to deploy service "api" (azure.yaml) by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }

  resource appSettings 'config' = {
    name: 'appsettings'
    properties: {
      // Platform: host storage through the identity (no connection string, no account key).
      AzureWebJobsStorage__accountName: storageAccountName
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      // Platform: telemetry, authenticated with the identity (local auth is off).
      APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
      // Platform: the host refuses bodies over 4 MiB (the ingest bound, INGEST_MAX_BODY_BYTES) with
      // 413 before the app sees them; the app streams bodies and applies each route's own bound.
      FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '4194304'
      // Platform: the Node worker's heap, half the instance's memory (1024 MB on 2048 MB), as every
      // host is launched (local/host-process.ts, HOST_NODE_ARGUMENTS): below 2 GB V8 grows its old
      // generation 1.3 to 2 times its live size between collections rather than 4, so an instance's
      // resident memory follows what it holds (bench figure 7).
      languageWorkers__node__arguments: '--max-old-space-size=${instanceMemoryMB / 2}'
      // The service (shared/config.ts).
      AZURE_CLIENT_ID: identityClientId
      TABLES_ENDPOINT: tableEndpoint
      QUEUES_ENDPOINT: queueEndpoint
      SESSIONS_TABLES_ENDPOINTS: sessionTableEndpoints
      KEY_VAULT_URL: keyVaultUrl
      PORTAL_JWKS_URL: portalJwksUrl
      PORTAL_SIGN_IN_URL: portalSignInUrl
      PORTAL_JWT_ISSUER: portalJwtIssuer
      PORTAL_JWT_AUDIENCE: portalJwtAudience
      PLANS: plans
      TENANT_KEY_GRACE_PERIOD_HOURS: string(tenantKeyGracePeriodHours)
    }
  }

  // Deployments authenticate with Entra ID (azd does); publishing passwords stay off.
  resource ftpCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

output name string = app.name
output uri string = 'https://${app.properties.defaultHostName}'
