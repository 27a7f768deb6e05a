// Connection Center on Azure: App Service (Linux, Node 20 LTS, several instances) running the compiled
// server, Azure Database for PostgreSQL Flexible Server 15 as the shared store, Key Vault holding every
// secret (the app reads them through Key Vault references with its managed identity), and the Azure
// Bot resource with the Microsoft Teams channel. Deployed by `arm/deploy` in m365agents.yml with
// azure.parameters.json; the outputs are written back to env/.env.<environment>.

@minLength(4)
@maxLength(20)
@description('Prefix of every resource name (lower-case letters and digits).')
param resourceBaseName string

param location string = resourceGroup().location

@description('App Service plan SKU; P1v3 or larger for production (Basic and up allow several instances).')
param appServiceSku string = 'P1v3'

@minValue(1)
@description('Instances of the web app; several share the PostgreSQL store.')
param instanceCount int = 2

// The product's Entra app (Teams SSO and Connect Office 365).
param aadAppClientId string
@secure()
param aadAppClientSecret string
param aadAppTenantId string
param aadAppOauthAuthorityHost string = 'https://login.microsoftonline.com'

// The bot's Entra app (botAadApp/create).
param botAadAppClientId string
@secure()
param botAadAppClientSecret string
@allowed([
  'SingleTenant'
  'MultiTenant'
])
param botAppType string = 'SingleTenant'
param botDisplayName string = 'Connection Center'

@description('The Teams app id (manifest id), for proactive installation.')
param teamsAppId string = ''

@secure()
@description('ENCRYPTION_KEY: base64 of 32 random bytes; several comma-separated keys rotate (the first encrypts).')
param encryptionKey string

param postgresAdminLogin string = 'connectioncenter'
@secure()
@minLength(12)
param postgresAdminPassword string
param postgresSkuName string = 'Standard_B1ms'
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'Burstable'
param postgresStorageSizeGB int = 32

var webAppName = resourceBaseName
var databaseName = 'connectioncenter'
// Key Vault names are global, 3–24 characters.
var keyVaultName = 'kv${uniqueString(resourceGroup().id, resourceBaseName)}'
// Built-in role "Key Vault Secrets User": read secret values.
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2022-12-01' = {
  name: '${resourceBaseName}-pg'
  location: location
  sku: {
    name: postgresSkuName
    tier: postgresSkuTier
  }
  properties: {
    version: '15'
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    storage: {
      storageSizeGB: postgresStorageSizeGB
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2022-12-01' = {
  parent: postgres
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// 0.0.0.0–0.0.0.0 is Azure's rule for "allow Azure services": the web app reaches the server over TLS.
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2022-12-01' = {
  parent: postgres
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
  }
}

var secretList = [
  {
    name: 'aad-app-client-secret'
    value: aadAppClientSecret
  }
  {
    name: 'bot-password'
    value: botAadAppClientSecret
  }
  {
    name: 'encryption-key'
    value: encryptionKey
  }
  {
    // The connection string carries the password, so it is a secret too.
    name: 'data-store'
    value: 'postgres://${postgresAdminLogin}:${uriComponent(postgresAdminPassword)}@${postgres.properties.fullyQualifiedDomainName}:5432/${databaseName}?sslmode=require'
  }
]

resource secrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for secret in secretList: {
  parent: keyVault
  name: secret.name
  properties: {
    value: secret.value
  }
}]

// Key Vault references without a version follow the latest version of the secret (rotation: update it, restart).
var secretUriBase = 'https://${keyVaultName}${environment().suffixes.keyvaultDns}/secrets'

resource plan 'Microsoft.Web/serverfarms@2022-09-01' = {
  name: '${resourceBaseName}-plan'
  location: location
  kind: 'linux'
  sku: {
    name: appServiceSku
    capacity: instanceCount
  }
  properties: {
    reserved: true
  }
}

resource webApp 'Microsoft.Web/sites@2022-09-01' = {
  name: webAppName
  location: location
  kind: 'app,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      linuxFxVersion: 'NODE|20-lts'
      // The compiled server; the zip carries dist/ and tab/dist/ built by the deploy step.
      appCommandLine: 'node dist/src/index.js'
      alwaysOn: true
      http20Enabled: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      healthCheckPath: '/readyz'
      appSettings: [
        {
          name: 'NODE_ENV'
          value: 'production'
        }
        {
          name: 'PORT'
          value: '8080'
        }
        {
          name: 'WEBSITES_PORT'
          value: '8080'
        }
        // App Service installs the production dependencies (native ones for this platform) from the lock file.
        {
          name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
          value: 'true'
        }
        {
          name: 'CUSTOM_BUILD_COMMAND'
          value: 'npm ci --omit=dev --ignore-scripts && npm rebuild better-sqlite3'
        }
        {
          name: 'TAB_ENDPOINT'
          value: 'https://${webAppName}.azurewebsites.net'
        }
        {
          name: 'AAD_APP_CLIENT_ID'
          value: aadAppClientId
        }
        {
          name: 'AAD_APP_TENANT_ID'
          value: aadAppTenantId
        }
        {
          name: 'AAD_APP_OAUTH_AUTHORITY_HOST'
          value: aadAppOauthAuthorityHost
        }
        {
          name: 'BOT_ID'
          value: botAadAppClientId
        }
        {
          name: 'BOT_TENANT_ID'
          value: botAppType == 'SingleTenant' ? tenant().tenantId : ''
        }
        {
          name: 'TEAMS_APP_ID'
          value: teamsAppId
        }
        {
          name: 'SECRET_AAD_APP_CLIENT_SECRET'
          value: '@Microsoft.KeyVault(SecretUri=${secretUriBase}/aad-app-client-secret/)'
        }
        {
          name: 'SECRET_BOT_PASSWORD'
          value: '@Microsoft.KeyVault(SecretUri=${secretUriBase}/bot-password/)'
        }
        {
          name: 'ENCRYPTION_KEY'
          value: '@Microsoft.KeyVault(SecretUri=${secretUriBase}/encryption-key/)'
        }
        {
          name: 'DATA_STORE'
          value: '@Microsoft.KeyVault(SecretUri=${secretUriBase}/data-store/)'
        }
      ]
    }
  }
  dependsOn: [
    secrets
  ]
}

resource webAppReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: keyVault
  name: guid(keyVault.id, webApp.id, keyVaultSecretsUserRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: webApp.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: resourceBaseName
  location: 'global'
  kind: 'azurebot'
  sku: {
    name: 'F0'
  }
  properties: {
    displayName: botDisplayName
    endpoint: 'https://${webApp.properties.defaultHostName}/api/messages'
    msaAppId: botAadAppClientId
    msaAppType: botAppType
    msaAppTenantId: botAppType == 'SingleTenant' ? tenant().tenantId : ''
  }
}

resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
  }
}

// Written to env/.env.<environment> by arm/deploy.
output AZURE_APP_SERVICE_RESOURCE_ID string = webApp.id
output TAB_ENDPOINT string = 'https://${webApp.properties.defaultHostName}'
output TAB_DOMAIN string = webApp.properties.defaultHostName
output BOT_ENDPOINT string = 'https://${webApp.properties.defaultHostName}'
output AZURE_KEY_VAULT_NAME string = keyVault.name
output AZURE_POSTGRES_HOST string = postgres.properties.fullyQualifiedDomainName
