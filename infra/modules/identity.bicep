// The one identity the Function App runs as. Every data-plane permission the app holds is a
// role assignment on this identity (see access.bicep); the app holds no keys or passwords.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
