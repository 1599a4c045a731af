output "url" {
  description = "The development hub's address (the browser warns about Caddy's local CA)."
  value       = module.site.url
}

output "release_id" {
  description = "The deployed release."
  value       = module.site.release_id
}

output "resource_persons" {
  description = "The region's resource persons."
  value       = module.hub.resource_persons
}
