//go:build tools

package seaweedfs

import _ "github.com/seaweedfs/seaweedfs/weed"
