package scenarios

import (
	_ "cloud.google.com/go/monitoring/apiv3/v2"
	_ "cloud.google.com/go/secretmanager/apiv1"
	_ "github.com/bacalhau-project/bacalhau/pkg/publicapi/client/v2"
	_ "github.com/sethvargo/go-envconfig"
)

import (
	_ "cloud.google.com/go/compute/metadata"
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"
	_ "github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	_ "google.golang.org/api/option"
	_ "google.golang.org/grpc"
)
