// Alert rules for the on-call engineer, each a log query over Application Insights (where the
// app's OpenTelemetry metrics and requests land) and each wired to one action group that mails
// the address given at deployment. docs/operations.md, "On call", has, for every rule, what it means, the query
// that shows the detail and the steps; the metric names are checked against the code's
// (test/unit/infra-drift.test.ts).
param namePrefix string
param location string
param tags object
param appInsightsId string
@description('Where alerts are sent (an on-call mailbox or distribution list).')
param alertEmail string

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-oncall'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'keys-oncall'
    enabled: true
    emailReceivers: [
      {
        name: 'on-call'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// Each query returns a row per breach; the rule fires when there is at least one.
var rules = [
  {
    name: 'server-errors'
    severity: 1
    description: 'More than 5% of requests answered 5xx over 5 minutes (at least 20 requests).'
    query: 'requests | where timestamp > ago(5m) | summarize total = count(), failed = countif(toint(resultCode) >= 500) | where total >= 20 and failed * 1.0 / total > 0.05'
  }
  {
    name: 'dependency-unavailable'
    severity: 1
    description: 'More than 2% of requests answered 503 (dependency_unavailable or server_busy) over 5 minutes.'
    query: 'requests | where timestamp > ago(5m) | summarize total = count(), unavailable = countif(resultCode == "503") | where total >= 20 and unavailable * 1.0 / total > 0.02'
  }
  {
    name: 'storage-throttling'
    severity: 2
    description: 'Table Storage answered "busy" (429/503) more than 100 times in 5 minutes.'
    query: 'customMetrics | where timestamp > ago(5m) and name == "veriproof.storage.operations" and tostring(customDimensions.outcome) == "throttled" | summarize throttled = sum(valueSum) by table = tostring(customDimensions.table) | where throttled > 100'
  }
  {
    name: 'revocation-feed-lag'
    severity: 1
    description: 'An instance has not read the revocation feed for over 10 s (revoked keys may still work there).'
    query: 'customMetrics | where timestamp > ago(5m) and name == "veriproof.revocation_feed.lag" | summarize lag = max(valueMax) by instance = cloud_RoleInstance | where lag > 10'
  }
  {
    name: 'key-vault-failures'
    severity: 2
    description: 'Key Vault calls failed in the last 5 minutes (cold customers get 503 until it answers).'
    query: 'customMetrics | where timestamp > ago(5m) and name == "veriproof.key_vault.calls" and tostring(customDimensions.outcome) == "failed" | summarize failed = sum(valueSum) | where failed > 0'
  }
  {
    name: 'invalid-keys-one-customer'
    severity: 2
    description: 'One customer\'s revoked keys are presented far more often than in the hour before (a leaked or misconfigured fleet).'
    query: 'let recent = customMetrics | where timestamp > ago(5m) and name == "veriproof.auth.outcomes" and tostring(customDimensions.outcome) == "api_key_invalid" and isnotempty(tostring(customDimensions.customer)) | summarize n = sum(valueSum) by customer = tostring(customDimensions.customer); let before = customMetrics | where timestamp between (ago(65m) .. ago(5m)) and name == "veriproof.auth.outcomes" and tostring(customDimensions.outcome) == "api_key_invalid" | summarize hourly = sum(valueSum) by customer = tostring(customDimensions.customer); recent | join kind=leftouter before on customer | where n > 50 and n > 5 * coalesce(hourly, 0.0) / 12'
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for rule in rules: {
    name: '${namePrefix}-${rule.name}'
    location: location
    tags: tags
    properties: {
      displayName: 'keys: ${rule.name}'
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [appInsightsId]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT5M'
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      actions: {
        actionGroups: [actionGroup.id]
      }
      autoMitigate: true
    }
  }
]

output actionGroupId string = actionGroup.id
output ruleNames array = [for rule in rules: rule.name]
