// Entry point for `azd up` / `azd provision`: one resource group holding the whole service.
// Modules under modules/ each own one concern; role assignments live together in access.bicep
// so the full list of what the app may touch can be read in one place.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name (dev, prod, ...). Names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region for every resource; it must offer the Flex Consumption plan.')
param location string

@minLength(1)
@description('JWKS URL of the identity provider that signs portal session tokens (PORTAL_JWKS_URL).')
param portalJwksUrl string

@description('Where the portal page sends users to sign in: the portal back end, which returns them to /portal with the token and the page\'s state (PORTAL_SIGN_IN_URL). Empty: the page can only say to open it from the Veriproof account.')
param portalSignInUrl string = ''

@minLength(1)
@description('Issuer ("iss") the portal session tokens carry (PORTAL_JWT_ISSUER).')
param portalJwtIssuer string

@minLength(1)
@description('Audience ("aud") the portal session tokens carry (PORTAL_JWT_AUDIENCE).')
param portalJwtAudience string

@description('Overrides of the built-in plan table, e.g. {"pro":{"keyLimit":8}}; {} keeps the defaults (PLANS).')
param plans object = {}

@minValue(0)
@maxValue(2160)
@description('How long a rotated-out master component keeps working (TENANT_KEY_GRACE_PERIOD_HOURS).')
param tenantKeyGracePeriodHours int = 168

@allowed([512, 2048, 4096])
@description('Memory of each Flex Consumption instance.')
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
@description('Upper bound on instances the plan scales out to (and so on cost under a traffic spike).')
param maximumInstanceCount int = 100

@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS'])
@description('Redundancy of the storage account holding keys, usage and the host state.')
param storageSku string = 'Standard_LRS'

@description('Extra storage accounts for ingested sessions (0: sessions stay in the main account). See docs/capacity.md: one account carries about one enterprise customer at its full rate.')
@minValue(0)
@maxValue(16)
param sessionStorageAccounts int = 0

@minValue(30)
@maxValue(730)
@description('Days the Log Analytics workspace keeps logs.')
param logRetentionDays int = 30

@description('Where the on-call alerts (modules/alerts.bicep) are mailed.')
param alertEmail string

var tags = { 'azd-env-name': environmentName }
// 13 characters, stable for a given subscription, environment and region.
var token = uniqueString(subscription().id, environmentName, location)

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: group
  params: {
    name: 'id-keys-${token}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: group
  params: {
    workspaceName: 'log-keys-${token}'
    appInsightsName: 'appi-keys-${token}'
    location: location
    tags: tags
    retentionInDays: logRetentionDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: group
  params: {
    name: 'stkeys${token}'
    location: location
    tags: tags
    skuName: storageSku
  }
}

module sessionStorage 'modules/session-storage.bicep' = {
  name: 'session-storage'
  scope: group
  params: {
    namePrefix: 'stsess'
    token: token
    location: location
    tags: tags
    skuName: storageSku
    count: sessionStorageAccounts
  }
}

module vault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  scope: group
  params: {
    name: 'kv-keys-${token}'
    location: location
    tags: tags
  }
}

module access 'modules/access.bicep' = {
  name: 'access'
  scope: group
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    sessionStorageAccountNames: sessionStorage.outputs.names
    keyVaultName: vault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: group
  params: {
    namePrefix: 'keys-${token}'
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    alertEmail: alertEmail
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: group
  dependsOn: [access]
  params: {
    name: 'func-keys-${token}'
    planName: 'plan-keys-${token}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    tableEndpoint: storage.outputs.tableEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    sessionTableEndpoints: sessionStorage.outputs.tableEndpoints
    keyVaultUrl: vault.outputs.uri
    appInsightsConnectionString: monitoring.outputs.connectionString
    portalJwksUrl: portalJwksUrl
    portalSignInUrl: portalSignInUrl
    portalJwtIssuer: portalJwtIssuer
    portalJwtAudience: portalJwtAudience
    plans: string(plans)
    tenantKeyGracePeriodHours: tenantKeyGracePeriodHours
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
  }
}

// azd reads these into the environment (.azure/<env>/.env).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = group.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
output KEY_VAULT_URL string = vault.outputs.uri
output TABLES_ENDPOINT string = storage.outputs.tableEndpoint
output MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
