data "hubkit_bundle" "nordjylland" {
  region = "nordjylland"
}

output "resource_persons" {
  value = data.hubkit_bundle.nordjylland.resource_persons
}
