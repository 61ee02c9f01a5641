// A sample deployment for the tests: nothing but what azd always passes.
using '../main.bicep'

param environmentName = 'linkgate'
param location = 'westeurope'
