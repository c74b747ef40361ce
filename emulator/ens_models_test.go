package emulator_test

import "reflect"

// ENS's response models, for the conformance guard. No ENS Go SDK is available here, so
// they are declared from the project's ENS reference (ENS-2017-11-10.md, sections 2 to
// 5), with the field names and JSON types of the v12 SDK's models (G1) that it gives:
// TotalCount, FailCount and each result's Code integers, Success a boolean, Results a
// list without a wrapper; DescribeInstances' Cpu a string and DeletionProtection a
// boolean. Memory and Disk, whose types the reference does not give, are int32 in G1's
// DescribeInstancesResponseBodyInstancesInstance. Only the fields the reference names
// are declared: the guard then fails on any other the emulator would answer.
var ensModels = map[string]reflect.Type{
	"ENS DescribeKeyPairs":  reflect.TypeFor[ensDescribeKeyPairsBody](),
	"ENS DescribeInstances": reflect.TypeFor[ensDescribeInstancesBody](),
	"ENS DetachKeyPair":     reflect.TypeFor[ensKeyPairBatchBody](),
	"ENS AttachKeyPair":     reflect.TypeFor[ensKeyPairBatchBody](),
	"ENS ListTagResources":  reflect.TypeFor[ensListTagResourcesBody](),
	"ENS error":             ecsErrorModel(), // the same gateway, read by the same client
}

// ensDescribeKeyPairsBody is DescribeKeyPairs' answer (reference section 4).
type ensDescribeKeyPairsBody struct {
	RequestId  *string `json:"RequestId"`
	TotalCount *int32  `json:"TotalCount"`
	PageNumber *int32  `json:"PageNumber"`
	PageSize   *int32  `json:"PageSize"`
	KeyPairs   *struct {
		KeyPair []*struct {
			KeyPairId          *string `json:"KeyPairId"`
			KeyPairName        *string `json:"KeyPairName"`
			KeyPairFingerPrint *string `json:"KeyPairFingerPrint"`
			CreationTime       *string `json:"CreationTime"`
		} `json:"KeyPair"`
	} `json:"KeyPairs"`
}

// ensDescribeInstancesBody is DescribeInstances' answer (reference section 5).
type ensDescribeInstancesBody struct {
	RequestId  *string `json:"RequestId"`
	Code       *int32  `json:"Code"`
	TotalCount *int32  `json:"TotalCount"`
	PageNumber *int32  `json:"PageNumber"`
	PageSize   *int32  `json:"PageSize"`
	Instances  *struct {
		Instance []*struct {
			InstanceId           *string `json:"InstanceId"`
			InstanceName         *string `json:"InstanceName"`
			HostName             *string `json:"HostName"`
			EnsRegionId          *string `json:"EnsRegionId"`
			Status               *string `json:"Status"`
			KeyPairName          *string `json:"KeyPairName"`
			ImageId              *string `json:"ImageId"`
			OSName               *string `json:"OSName"`
			SpecName             *string `json:"SpecName"`
			InstanceResourceType *string `json:"InstanceResourceType"`
			InstanceTypeFamily   *string `json:"InstanceTypeFamily"`
			CreationTime         *string `json:"CreationTime"`
			ExpiredTime          *string `json:"ExpiredTime"`
			AutoReleaseTime      *string `json:"AutoReleaseTime"`
			Cpu                  *string `json:"Cpu"`
			Memory               *int32  `json:"Memory"`
			Disk                 *int32  `json:"Disk"`
			SpotStrategy         *string `json:"SpotStrategy"`
			DeletionProtection   *bool   `json:"DeletionProtection"`
			Tags                 *struct {
				Tags []*struct {
					TagKey   *string `json:"TagKey"`
					TagValue *string `json:"TagValue"`
				} `json:"Tags"`
			} `json:"Tags"`
		} `json:"Instance"`
	} `json:"Instances"`
}

// ensKeyPairBatchBody is DetachKeyPair's and AttachKeyPair's answer (reference sections
// 2 and 3).
type ensKeyPairBatchBody struct {
	RequestId   *string `json:"RequestId"`
	KeyPairId   *string `json:"KeyPairId"`
	KeyPairName *string `json:"KeyPairName"`
	TotalCount  *int32  `json:"TotalCount"`
	FailCount   *int32  `json:"FailCount"`
	Results     []*struct {
		InstanceId *string `json:"InstanceId"`
		Code       *int32  `json:"Code"`
		Success    *bool   `json:"Success"`
		Message    *string `json:"Message"`
	} `json:"Results"`
}

// ensListTagResourcesBody is ListTagResources' answer (reference section 6; G1's
// ListTagResourcesResponseBody): TagResources a list without a wrapper.
type ensListTagResourcesBody struct {
	RequestId    *string `json:"RequestId"`
	NextToken    *string `json:"NextToken"`
	TagResources []*struct {
		ResourceId   *string `json:"ResourceId"`
		ResourceType *string `json:"ResourceType"`
		TagKey       *string `json:"TagKey"`
		TagValue     *string `json:"TagValue"`
	} `json:"TagResources"`
}
