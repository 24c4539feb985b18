// Command dockerfile-check does what `docker build --check` does, without a Docker engine: BuildKit's own Dockerfile
// frontend (the code the engine runs for --check) parses each Dockerfile given, converts every stage to instructions
// and dispatches them with its linter on, and prints its warnings and build error as docker does. It exits 1 on any
// warning or error, as `docker build --check` does, 2 on a file it cannot read.
//
// The one difference: base images are not pulled (no registry is reachable from CI). Each FROM gets an image config
// with the official node image's environment, so the stages resolve and the checks that read the base image's
// variables (UndefinedVar) still run; whether the tag exists is not checked here.
//
// Usage: go run . ../../Dockerfile [more Dockerfiles]
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/opencontainers/go-digest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dockerfile-check <Dockerfile>...")
		os.Exit(2)
	}
	status := 0
	for _, file := range os.Args[1:] {
		if code := check(file); code > status {
			status = code
		}
	}
	os.Exit(status)
}

func check(file string) int {
	dt, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	// As the engine's frontend does: the Dockerfile is a local source, which warnings and errors point into.
	source := llb.Local("dockerfile")
	definition, err := source.Marshal(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
		return 1
	}
	sourceMap := llb.NewSourceMap(&source, file, "Dockerfile", dt)
	sourceMap.Definition = definition
	results, err := dockerfile2llb.DockerfileLint(ctx, dt, dockerfile2llb.ConvertOpt{
		MetaResolver: offlineImages{},
		SourceMap:    sourceMap,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
		return 1
	}
	if err := results.PrintTo(os.Stdout, nil); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
		return 1
	}
	if results.Error != nil {
		fmt.Print("\nERROR: ")
		results.PrintErrorTo(os.Stdout, nil)
		return 1
	}
	targets, err := dockerfile2llb.ListTargets(ctx, dt)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
		return 1
	}
	if len(results.Warnings) > 0 {
		fmt.Printf("\n%s: %d warning(s)\n", file, len(results.Warnings))
		return 1
	}
	fmt.Printf("%s: %d stages, parsed and linted by BuildKit's Dockerfile frontend, no warnings\n", file, len(targets.Targets))
	for _, target := range targets.Targets {
		fmt.Printf("  %s FROM %s\n", target.Name, target.Base)
	}
	return 0
}

// offlineImages answers for any base image with a config like the official node images' (one layer, so not taken for
// scratch; the platform asked for; PATH and NODE_VERSION set), instead of fetching it from a registry.
type offlineImages struct{}

func (offlineImages) ResolveImageConfig(_ context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	config := map[string]any{
		"os":           "linux",
		"architecture": "amd64",
		"config": map[string]any{
			"Env": []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"NODE_VERSION=unknown",
			},
			"Cmd": []string{"node"},
		},
		"rootfs": map[string]any{
			"type":     "layers",
			"diff_ids": []string{digest.FromString(ref).String()},
		},
	}
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		config["os"] = opt.ImageOpt.Platform.OS
		config["architecture"] = opt.ImageOpt.Platform.Architecture
	}
	dt, err := json.Marshal(config)
	return ref, "", dt, err
}
