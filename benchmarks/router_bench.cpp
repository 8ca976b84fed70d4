// Router lookup micro-benchmark: the 203 GitHub API routes of the go-http-routing-benchmark
// set, every route looked up once per iteration (method tree selection + radix lookup with
// parameter capture). Reports ns per lookup. Run: build-release/benchmarks/router_bench
#include "router/radix_tree.hpp"

#include <benchmark/benchmark.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

struct Case {
    const vstream::router::RadixTree* tree;
    std::string path;
};

struct GithubSet {
    std::map<std::string, vstream::router::RadixTree> trees;
    std::vector<Case> cases;

    GithubSet() {
        std::ifstream in(VSTREAM_TEST_DATA "/github-api-routes.txt");
        std::string method, pattern;
        std::vector<std::pair<std::string, std::string>> routes;
        while (in >> method >> pattern) routes.emplace_back(method, pattern);
        for (std::size_t i = 0; i < routes.size(); ++i) {
            trees[routes[i].first].insert(routes[i].second, static_cast<int>(i));
        }
        for (const auto& [m, p] : routes) {
            std::string path;
            for (std::size_t i = 0; i < p.size();) {
                if (p[i] == ':') {
                    const std::size_t end = std::min(p.find('/', i), p.size());
                    path += "value";
                    i = end;
                } else {
                    path += p[i++];
                }
            }
            cases.push_back({&trees[m], path});
        }
    }
};

void BM_GithubAll(benchmark::State& state) {
    static const GithubSet set;
    vstream::router::ParamList params;
    for (auto _ : state) {
        for (const Case& c : set.cases) {
            benchmark::DoNotOptimize(c.tree->find(c.path, params));
            benchmark::DoNotOptimize(params);
        }
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(set.cases.size()));
    state.counters["ns_per_lookup"] =
        benchmark::Counter(static_cast<double>(state.iterations() * set.cases.size()),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_GithubAll);

void BM_StaticLookup(benchmark::State& state) {
    static const GithubSet set;
    vstream::router::ParamList params;
    const auto& tree = set.trees.at("GET");
    for (auto _ : state) benchmark::DoNotOptimize(tree.find("/user/repos", params));
}
BENCHMARK(BM_StaticLookup);

void BM_ParamLookup(benchmark::State& state) {
    static const GithubSet set;
    vstream::router::ParamList params;
    const auto& tree = set.trees.at("GET");
    for (auto _ : state) {
        benchmark::DoNotOptimize(tree.find("/repos/julienschmidt/httprouter/stargazers", params));
    }
}
BENCHMARK(BM_ParamLookup);

}  // namespace

BENCHMARK_MAIN();
