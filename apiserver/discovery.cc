#include "apiserver/discovery.h"

namespace solti::api {
namespace {

const std::vector<std::string> kWriteVerbs = {"create", "delete", "deletecollection", "get",
                                              "list",   "patch",  "update",           "watch"};
const std::vector<std::string> kReadVerbs = {"get", "list", "watch"};

std::vector<std::string> verbs_of(const ResourceInfo& info) {
  return info.user_writable ? kWriteVerbs : kReadVerbs;
}

Json gvk(const ResourceInfo& info) {
  return {{"group", info.group}, {"version", info.version}, {"kind", info.kind}};
}

std::string operation_id(const std::string& verb, const ResourceInfo& info, bool namespaced,
                         const std::string& suffix = "") {
  return verb + "SoltiIoV1" + (namespaced ? "Namespaced" : "") + info.kind + suffix;
}

Json operation(const std::string& id, const std::string& action, const ResourceInfo& info,
               const std::string& schema_ref, Json parameters = Json::array()) {
  Json op = {{"operationId", id},
             {"x-kubernetes-action", action},
             {"x-kubernetes-group-version-kind", gvk(info)},
             {"responses",
              {{"200",
                {{"description", "OK"},
                 {"content", {{"application/json", {{"schema", {{"$ref", schema_ref}}}}}}}}}}}};
  if (!parameters.empty()) op["parameters"] = std::move(parameters);
  return op;
}

Json query_parameter(const std::string& name, const std::string& type) {
  return {{"name", name}, {"in", "query"}, {"schema", {{"type", type}}}};
}

Json path_parameter(const std::string& name) {
  return {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
}

Json write_parameters(bool patch) {
  Json p =
      Json::array({query_parameter("dryRun", "string"), query_parameter("fieldManager", "string"),
                   query_parameter("fieldValidation", "string")});
  if (patch) p.push_back(query_parameter("force", "boolean"));
  return p;
}

Json list_parameters() {
  return Json::array(
      {query_parameter("labelSelector", "string"), query_parameter("fieldSelector", "string"),
       query_parameter("limit", "integer"), query_parameter("continue", "string"),
       query_parameter("resourceVersion", "string"),
       query_parameter("resourceVersionMatch", "string"), query_parameter("watch", "boolean"),
       query_parameter("allowWatchBookmarks", "boolean"),
       query_parameter("sendInitialEvents", "boolean"),
       query_parameter("timeoutSeconds", "integer")});
}

Json patch_body() {
  // No strategic-merge-patch here: listing it makes client-side apply send it.
  Json object = {{"schema", {{"type", "object"}}}};
  return {{"content",
           {{"application/json-patch+json", object},
            {"application/merge-patch+json", object},
            {"application/apply-patch+yaml", object}}}};
}

}  // namespace

Json version_document(const std::string& solti_version) {
  return {{"major", "1"},
          {"minor", "32"},
          {"gitVersion", "v1.32.0-solti." + solti_version},
          {"gitCommit", ""},
          {"gitTreeState", "clean"},
          {"buildDate", ""},
          {"goVersion", "n/a (C++20)"},
          {"compiler", "g++"},
          {"platform", "linux/amd64"}};
}

Json api_group(const std::vector<const Strategy*>& resources) {
  const ResourceInfo& info = resources.front()->info();
  Json version = {{"groupVersion", info.api_version()}, {"version", info.version}};
  return {{"kind", "APIGroup"},
          {"apiVersion", "v1"},
          {"name", info.group},
          {"versions", Json::array({version})},
          {"preferredVersion", version}};
}

Json api_group_list(const std::vector<const Strategy*>& resources) {
  Json group = api_group(resources);
  group.erase("kind");
  group.erase("apiVersion");
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", Json::array({group})}};
}

Json api_resource_list(const std::vector<const Strategy*>& resources) {
  Json list = Json::array();
  for (const Strategy* s : resources) {
    const ResourceInfo& info = s->info();
    list.push_back({{"name", info.plural},
                    {"singularName", info.singular},
                    {"namespaced", true},
                    {"kind", info.kind},
                    {"verbs", verbs_of(info)},
                    {"shortNames", info.short_names},
                    {"categories", info.categories}});
    if (info.has_status) {
      list.push_back({{"name", info.plural + "/status"},
                      {"singularName", ""},
                      {"namespaced", true},
                      {"kind", info.kind},
                      {"verbs", {"get", "patch", "update"}}});
    }
    if (info.has_log) {
      list.push_back({{"name", info.plural + "/log"},
                      {"singularName", ""},
                      {"namespaced", true},
                      {"kind", info.kind},
                      {"verbs", {"get"}}});
    }
  }
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", resources.front()->info().api_version()},
          {"resources", list}};
}

Json aggregated_discovery(const std::vector<const Strategy*>& resources,
                          const std::string& version) {
  Json list = Json::array();
  for (const Strategy* s : resources) {
    const ResourceInfo& info = s->info();
    Json resource = {{"resource", info.plural},        {"responseKind", gvk(info)},
                     {"scope", "Namespaced"},          {"singularResource", info.singular},
                     {"shortNames", info.short_names}, {"categories", info.categories},
                     {"verbs", verbs_of(info)}};
    if (info.has_status) {
      resource["subresources"].push_back({{"subresource", "status"},
                                          {"responseKind", gvk(info)},
                                          {"verbs", {"get", "patch", "update"}}});
    }
    if (info.has_log) {
      resource["subresources"].push_back(
          {{"subresource", "log"}, {"responseKind", gvk(info)}, {"verbs", {"get"}}});
    }
    list.push_back(std::move(resource));
  }
  const ResourceInfo& info = resources.front()->info();
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", "apidiscovery.k8s.io/" + version},
          {"metadata", Json::object()},
          {"items", Json::array({{{"metadata", {{"name", info.group}}},
                                  {"versions", Json::array({{{"version", info.version},
                                                             {"freshness", "Current"},
                                                             {"resources", list}}})}}})}};
}

Json openapi_v3_group(const std::vector<const Strategy*>& resources) {
  Json paths = Json::object();
  Json schemas = Json::object();
  for (const Strategy* s : resources) {
    const ResourceInfo& info = s->info();
    const std::string schema_name = "io.solti.v1." + info.kind;
    const std::string ref = "#/components/schemas/" + schema_name;
    const std::string list_ref = ref + "List";
    schemas[schema_name] = s->openapi_schema();
    schemas[schema_name + "List"] = {
        {"type", "object"},
        {"x-kubernetes-group-version-kind",
         Json::array(
             {{{"group", info.group}, {"kind", info.list_kind()}, {"version", info.version}}})},
        {"properties",
         {{"apiVersion", {{"type", "string"}}},
          {"kind", {{"type", "string"}}},
          {"metadata", {{"type", "object"}}},
          {"items", {{"type", "array"}, {"items", {{"$ref", ref}}}}}}}};

    const std::string base = "/apis/" + info.api_version();
    const std::string collection = base + "/namespaces/{namespace}/" + info.plural;
    const std::string item = collection + "/{name}";

    Json collection_ops = {{"parameters", Json::array({path_parameter("namespace")})},
                           {"get", operation(operation_id("list", info, true), "list", info,
                                             list_ref, list_parameters())}};
    Json item_ops = {
        {"parameters", Json::array({path_parameter("name"), path_parameter("namespace")})},
        {"get", operation(operation_id("read", info, true), "get", info, ref)}};
    if (info.user_writable) {
      Json create =
          operation(operation_id("create", info, true), "post", info, ref, write_parameters(false));
      create["requestBody"] = {{"content", {{"application/json", {{"schema", {{"$ref", ref}}}}}}}};
      collection_ops["post"] = std::move(create);
      collection_ops["delete"] = operation(operation_id("deleteCollection", info, true),
                                           "deletecollection", info, ref, list_parameters());
      Json replace =
          operation(operation_id("replace", info, true), "put", info, ref, write_parameters(false));
      replace["requestBody"] = {{"content", {{"application/json", {{"schema", {{"$ref", ref}}}}}}}};
      item_ops["put"] = std::move(replace);
      Json patch =
          operation(operation_id("patch", info, true), "patch", info, ref, write_parameters(true));
      patch["requestBody"] = patch_body();
      item_ops["patch"] = std::move(patch);
      item_ops["delete"] = operation(operation_id("delete", info, true), "delete", info, ref,
                                     Json::array({query_parameter("dryRun", "string")}));
    }
    paths[collection] = std::move(collection_ops);
    paths[item] = std::move(item_ops);
    paths[base + "/" + info.plural] = {
        {"get", operation(operation_id("list", info, false, "ForAllNamespaces"), "list", info,
                          list_ref, list_parameters())}};
    if (info.has_status) {
      Json status_ops = {
          {"parameters", Json::array({path_parameter("name"), path_parameter("namespace")})},
          {"get", operation(operation_id("read", info, true, "Status"), "get", info, ref)}};
      Json patch = operation(operation_id("patch", info, true, "Status"), "patch", info, ref,
                             write_parameters(true));
      patch["requestBody"] = patch_body();
      status_ops["patch"] = std::move(patch);
      status_ops["put"] = operation(operation_id("replace", info, true, "Status"), "put", info, ref,
                                    write_parameters(false));
      paths[item + "/status"] = std::move(status_ops);
    }
  }
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "solti"}, {"version", "v1"}}},
          {"paths", paths},
          {"components", {{"schemas", schemas}}}};
}

Json openapi_v3_index(const std::string& group_hash) {
  return {{"paths",
           {{"apis/solti.io/v1",
             {{"serverRelativeURL", "/openapi/v3/apis/solti.io/v1?hash=" + group_hash}}}}}};
}

}  // namespace solti::api
